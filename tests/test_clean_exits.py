"""SIGTERM and Ctrl-C end commands cleanly: no hidden temporaries left, the shell's exit codes
(143, 130), one line; the leftovers of a killed lift (SIGKILL) are removed by the next one."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from starpose.cli import main
from starpose.io import held_temp_beside, remove_stale_temporaries, temp_beside
from starpose.models.checkpoints import save_checkpoint
from starpose.models.mixste import MixSTE

SRC = str(Path(__file__).resolve().parents[1] / "src")


def _env() -> dict:
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", PYTHONUNBUFFERED="1")
    env["PYTHONPATH"] = SRC + os.pathsep + env.get("PYTHONPATH", "")
    return env


@pytest.fixture(scope="module")
def long_clip(tmp_path_factory):
    """A tiny checkpoint and a recording long enough that lifting it takes minutes."""
    folder = tmp_path_factory.mktemp("long")
    torch.manual_seed(0)
    ckpt = save_checkpoint(folder / "m.pt", MixSTE(num_frames=27, dim=32, depth=2, num_heads=2).eval())
    xy = np.random.default_rng(0).uniform(100, 900, size=(400_000, 17, 2)).astype(np.float32)
    np.save(folder / "long.npy", xy)
    return folder / "long.npy", ckpt


def _start_lift(clip, out: Path, *extra) -> subprocess.Popen:
    source, ckpt = clip
    return subprocess.Popen(
        [sys.executable, "-m", "starpose.cli", "lift", str(source), "--checkpoint", str(ckpt),
         "--out", str(out), "--width", "1000", "--height", "1002", "--no-flip", *extra],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env(),
        start_new_session=True)


def _wait_for_lifting(proc: subprocess.Popen, folder: Path, timeout: float = 120.0) -> None:
    """Until the poses' hidden ``.npy`` temporary holds data (lifting is under way)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        assert proc.poll() is None, proc.communicate()
        if any(p.suffix == ".npy" and p.stat().st_size > 4096 for p in folder.iterdir()):
            return
        time.sleep(0.1)
    proc.kill()
    pytest.fail("the lift never started writing")


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_during_lift_leaves_nothing_behind(long_clip, tmp_path, signum):
    folder = tmp_path / "d"
    folder.mkdir()
    proc = _start_lift(long_clip, folder / "r.npz")
    _wait_for_lifting(proc, folder)
    assert [p.name for p in folder.iterdir() if p.name.startswith(".")]  # the temporaries exist now
    os.killpg(proc.pid, signum)  # as a terminal (Ctrl-C) or a scheduler (SIGTERM) sends it
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 128 + signum
    assert err.strip().splitlines()[-1] == "starpose lift: interrupted"
    assert sorted(os.listdir(folder)) == []  # `ls -A d` lists nothing


def test_a_killed_lift_leaves_temporaries_that_the_next_lift_removes(long_clip, tmp_path):
    folder = tmp_path / "d"
    folder.mkdir()
    proc = _start_lift(long_clip, folder / "r.npz")
    _wait_for_lifting(proc, folder)
    os.killpg(proc.pid, signal.SIGKILL)  # nothing can clean up after this one
    proc.communicate(timeout=60)
    stale = sorted(p.name for p in folder.iterdir())
    assert len(stale) == 2 and all(name.startswith((".r.npz.", "..r.npz.")) for name in stale)
    (folder / "keep.txt").write_text("not ours")
    short = tmp_path / "short.npy"
    np.save(short, np.load(long_clip[0], mmap_mode="r")[:60])
    code = main(["lift", str(short), "--checkpoint", str(long_clip[1]), "--out", str(folder / "r.npz"),
                 "--width", "1000", "--height", "1002"])
    assert code == 0
    assert sorted(p.name for p in folder.iterdir()) == ["keep.txt", "r.npz"]


def test_only_temporaries_that_nobody_holds_are_stale(tmp_path):
    orphan = temp_beside(tmp_path / "r.npz", suffix=".npz")
    nested = temp_beside(orphan, suffix=".npy")
    live, fd = held_temp_beside(tmp_path / "r.npz", suffix=".npz")  # another lift writing it now
    other = temp_beside(tmp_path / "s.npz", suffix=".npz")
    (tmp_path / ".r.npz.notours").write_text("x")  # not a temporary's name
    try:
        assert remove_stale_temporaries(tmp_path, {"r.npz"}) == sorted([orphan, nested])
        assert live.exists() and other.exists() and (tmp_path / ".r.npz.notours").exists()
    finally:
        os.close(fd)
    assert remove_stale_temporaries(tmp_path, {"r.npz"}) == [live]  # released: now an orphan


# -- starpose bench ----------------------------------------------------------------------------------

_TINY_BENCH = ("import sys; import starpose.bench.inference as b; b.INFER_CONFIGS['small'] = b.TINY_INFER; "
               "from starpose.cli import main; sys.exit(main(sys.argv[1:]))")


def test_ctrl_c_during_bench_exits_130_with_one_line(tmp_path):
    """Ctrl-C (SIGINT to the process group, as a terminal sends it) while the peak-memory probe,
    a child process, lifts a recording: exit 130, ``interrupted``, no error, no progress text."""
    proc = subprocess.Popen(
        [sys.executable, "-c", _TINY_BENCH, "bench", "--inference-only", "--quick", "--configs", "small",
         "--rss-minutes", "20", "--no-compile"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env(), start_new_session=True)
    seen = []
    for line in proc.stderr:
        seen.append(line)
        if "peak memory" in line:
            break
    assert "peak memory" in seen[-1], "".join(seen)
    time.sleep(3)  # the probe is lifting now
    os.killpg(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert err.strip().splitlines() == ["starpose bench: interrupted"]


def _signal_child_when_it_runs(marker: str, signum: int) -> None:
    """From a thread: send ``signum`` to this process's child whose command line holds ``marker``."""
    import threading

    def watch():
        for _ in range(600):
            for status in Path("/proc").glob("[0-9]*/stat"):
                try:
                    ppid = int(status.read_text().rsplit(")", 1)[1].split()[1])
                    cmdline = (status.parent / "cmdline").read_bytes().decode(errors="replace")
                except (OSError, IndexError, ValueError):
                    continue
                if ppid == os.getpid() and marker in cmdline:
                    time.sleep(0.5)
                    os.kill(int(status.parent.name), signum)
                    return
            time.sleep(0.05)

    threading.Thread(target=watch, daemon=True).start()


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_probe_ended_by_a_signal_is_an_interruption_not_a_failure(signum):
    from starpose.bench.probe import run_probe
    from starpose.train.interrupts import Interrupted

    _signal_child_when_it_runs("from time import sleep", signum)
    with pytest.raises(Interrupted) as caught:
        run_probe("time", "sleep", 60, "sleeping")
    assert caught.value.exit_code == 128 + signum


def test_a_failed_probe_is_one_line_without_progress_bars():
    from starpose.bench.probe import last_line, run_probe
    from starpose.errors import StarposeError

    with pytest.raises(StarposeError) as caught:
        run_probe("math", "sqrt", -1, "square root")
    assert str(caught.value).startswith("square root failed (exit status 1): ValueError: ")
    assert "\n" not in str(caught.value)
    bar = "walk:  50%|#####     | 5.00k/10.0k [01:25<01:25, 58.3frame/s]\r"
    assert last_line(f"{bar}walk: 100%|##########| 10.0k/10.0k\r\nOSError: disk full\n") == "OSError: disk full"
    assert last_line("") == "no output"
