"""Kill a training run at random moments and resume it until it finishes.

:func:`kill_chain` starts ``starpose train`` in a subprocess with a checkpoint after every step
and a log line per step, kills it (SIGKILL, or SIGTERM / SIGINT, which must save and exit
143 / 130) after a random number of logged steps plus a random fraction of a step, then resumes
with ``--resume`` and repeats. Each kill records how many steps had been logged and which
position the resume started from: the difference is the work lost.
"""
from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch

from starpose.models.checkpoints import read_checkpoint

STEPS_PER_EPOCH = 4
EPOCHS = 3  # the run of the `make test` setting; a longer campaign lengthens it (epochs_for)


def epochs_for(kills: int) -> int:
    """Epochs of a run long enough for ``kills`` kill points (each lands after 1-3 more steps)."""
    return max(EPOCHS, -(-3 * kills // STEPS_PER_EPOCH))


def train_args(data_dir: Path, out: Path, epochs: int = EPOCHS) -> list[str]:
    return ["train", "--data-dir", str(data_dir), "--out", str(out), "--preset", "star-mixste-27",
            "--epochs", str(epochs), "--batch-size", "8", "--lr", "2e-3", "--subjects-train", "S1",
            "--subjects-test", "S9", "--actions", "Walking", "--max-batches-per-epoch", str(STEPS_PER_EPOCH),
            "--drop-path", "0.1", "--device", "cpu", "--no-progress", "--log-every", "1",
            "--checkpoint-every", "1"]


def _env() -> dict:
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", PYTHONUNBUFFERED="1")
    src = str(Path(__file__).resolve().parents[1] / "src")
    env["PYTHONPATH"] = src + os.pathsep + env.get("PYTHONPATH", "")
    return env


def start(args: list[str]) -> subprocess.Popen:
    """``starpose ARGS`` with one thread and small-model overrides (via a tiny preset wrapper)."""
    code = ("import sys, torch; torch.set_num_threads(1); "
            "import starpose.models.presets as p; from dataclasses import replace; "
            "pr = p.PRESETS['star-mixste-27']; "
            "p.PRESETS['star-mixste-27'] = replace(pr, model=replace(pr.model, dim=16, depth=1, num_heads=2)); "
            "from starpose.cli import main; sys.exit(main(sys.argv[1:]))")
    return subprocess.Popen([sys.executable, "-c", code, *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=_env())


def global_step(data: dict) -> int:
    return data["epoch"] * STEPS_PER_EPOCH + data["train_state"]["batch_in_epoch"]


@dataclass
class Kill:
    signal: str
    steps_logged: int
    resumed_at: int
    exit_code: int

    @property
    def lost(self) -> int:
        return self.steps_logged - self.resumed_at


@dataclass
class Chain:
    kills: list[Kill] = field(default_factory=list)
    final: dict | None = None


def _kill_after(proc: subprocess.Popen, steps: int, fraction: float, sig: int, done_before: int) -> int:
    """Read log lines until ``steps`` more steps were logged, wait ``fraction`` of a step, signal."""
    # The step time is measured between two step lines (the first one comes after start-up,
    # which can take seconds: waiting a fraction of that would let a short run finish).
    logged, last_time, step_seconds = done_before, None, 0.02
    while logged < done_before + steps:
        line = proc.stdout.readline()
        if not line:
            break
        if " step " in line:
            logged += 1
            now = time.perf_counter()
            if last_time is not None:
                step_seconds = now - last_time
            last_time = now
    time.sleep(fraction * step_seconds)
    if proc.poll() is None:
        proc.send_signal(sig)
    return logged


def kill_chain(data_dir: Path, out: Path, kills: int, seed: int,
               signals=(signal.SIGKILL,), timeout: float = 300, epochs: int = EPOCHS) -> Chain:
    rng, chain, total = random.Random(seed), Chain(), epochs * STEPS_PER_EPOCH
    done = 0
    for k in range(kills):
        sig = signals[k % len(signals)]
        proc = start(_args(data_dir, out, epochs))
        # At least one logged step first: the kill lands in training, validation or a checkpoint write.
        logged = _kill_after(proc, rng.randint(1, 3), rng.random() * 1.5, sig, done)
        proc.stdout.read()
        stderr = proc.stderr.read()
        code = proc.wait(timeout)
        if code == 0:  # it finished before the kill
            break
        resumed = global_step(read_checkpoint(out / "last.pt")) if (out / "last.pt").exists() else 0
        chain.kills.append(Kill(signal.Signals(sig).name, logged, resumed, code))
        assert code in (-signal.SIGKILL, 128 + sig, -sig, 2) or code == 0, stderr
        done = resumed
        if done >= total:
            break
    proc = start(_args(data_dir, out, epochs))
    out_text, err_text = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, err_text
    chain.final = read_checkpoint(out / "last.pt")
    return chain


def _args(data_dir: Path, out: Path, epochs: int) -> list[str]:
    """Resume when a checkpoint exists (a kill can come before the first one)."""
    if (out / "last.pt").exists() or (out / "last.prev.pt").exists():
        return ["train", "--resume", str(out)]
    return train_args(data_dir, out, epochs)


def reference(data_dir: Path, out: Path, epochs: int = EPOCHS, timeout: float = 300) -> dict:
    proc = start(train_args(data_dir, out, epochs))
    _, err = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, err
    return read_checkpoint(out / "last.pt")


def same_weights(a: dict, b: dict) -> bool:
    return all(torch.equal(a["model"][k], b["model"][k]) for k in a["model"])
