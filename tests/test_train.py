"""Training: the error drops, files are written, resume is exact, DDP equals one process."""
import csv
import json
import os
import re
import subprocess
import sys
from dataclasses import replace

import pytest
import torch

from starpose.cli import main
from starpose.errors import StarposeError
from starpose.models.checkpoints import read_checkpoint
from starpose.train.loop import TrainConfig, Trainer

SMALL_MODEL = {"dim": 32, "depth": 2, "num_heads": 4}
ACTIONS = ("Walking", "Eating")


def _config(data_dir, out, **kwargs):
    base = dict(data_dir=str(data_dir), out=str(out), preset="star-mixste-27", model_overrides=SMALL_MODEL,
                epochs=2, batch_size=8, lr=2e-3, subjects_train=("S1", "S5"), subjects_test=("S9",), actions=ACTIONS, progress=False)
    return TrainConfig(**(base | kwargs))


def _rows(run_dir):
    with open(run_dir / "metrics.csv") as fh:
        return list(csv.DictReader(fh))


def test_short_training_lowers_the_error_and_writes_its_files(tiny_dataset_dir, tmp_path):
    rows = Trainer(_config(tiny_dataset_dir, tmp_path / "run", epochs=4)).fit()
    assert rows[-1]["val_mpjpe"] < 0.9 * rows[0]["val_mpjpe"]
    assert rows[-1]["train_total"] < rows[0]["train_total"]
    assert [r["lr"] for r in rows] == pytest.approx([2e-3 * 0.99**i for i in range(4)])
    for name in ("best.pt", "last.pt", "config.json", "metrics.csv"):
        assert (tmp_path / "run" / name).is_file()
    assert any((tmp_path / "run" / "tensorboard").iterdir())
    assert [int(r["epoch"]) for r in _rows(tmp_path / "run")] == [1, 2, 3, 4]
    best = read_checkpoint(tmp_path / "run" / "best.pt")
    assert best["epoch"] == 1 + min(range(4), key=lambda i: rows[i]["val_mpjpe"])


def test_interrupted_and_resumed_run_ends_with_the_same_weights(tiny_dataset_dir, tmp_path):
    config = _config(tiny_dataset_dir, tmp_path / "a", model_overrides=SMALL_MODEL | {"drop_path_rate": 0.2})
    straight = Trainer(config)
    straight.fit()

    def interrupt(epoch, batch):
        if epoch == 1 and batch == 3:
            raise KeyboardInterrupt

    interrupted = replace(config, out=str(tmp_path / "b"))
    with pytest.raises(KeyboardInterrupt):
        Trainer(interrupted, on_batch_end=interrupt).fit()
    resumed = Trainer(interrupted, resume=True)
    assert (resumed.epoch, resumed.batch_in_epoch) == (1, 3)
    resumed.fit()
    for (name, a), b in zip(straight.model.state_dict().items(), resumed.model.state_dict().values()):
        assert torch.equal(a, b), name
    assert resumed.rows[-1]["val_mpjpe"] == straight.rows[-1]["val_mpjpe"]
    # The interrupted epoch's logged loss covers all its batches, before and after the resume.
    assert resumed.rows[1]["train_total"] == pytest.approx(straight.rows[1]["train_total"], rel=1e-6)


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_two_ddp_processes_give_the_losses_of_one_process(tiny_dataset_dir, tmp_path):
    common = ["train", "--data-dir", str(tiny_dataset_dir), "--preset", "star-mixste-27", "--epochs", "2",
              "--batch-size", "8", "--subjects-train", "S1", "--subjects-test", "S9", "--device", "cpu",
              "--actions", ",".join(ACTIONS)]
    assert main(common + ["--out", str(tmp_path / "one")]) == 0
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONUNBUFFERED="1")
    for attempt in range(2):
        out = tmp_path / f"two{attempt}"
        cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port",
               str(_free_port()), "-m", "starpose.cli"] + common + ["--out", str(out)]
        done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
        # Seen in ~1 of 10 runs beside other tests: a worker aborts at start-up ("terminate called
        # without an active exception", SIGABRT) before any training step; the launch is then
        # repeated once; any other failure fails the test at once.
        if done.returncode == 0 or "terminate called without an active exception" not in done.stderr:
            break
    assert done.returncode == 0, done.stderr[-2000:]
    one, two = _rows(tmp_path / "one"), _rows(out)
    for a, b in zip(one, two):
        for key in ("train_total", "train_wmpjpe", "val_mpjpe"):
            assert float(b[key]) == pytest.approx(float(a[key]), rel=1e-4), key


@pytest.mark.parametrize("case", ["out-is-file", "empty-split", "test-subject", "action", "keypoints",
                                  "device", "frames"])
def test_cli_bad_input(tiny_dataset_dir, tmp_path, capsys, case):
    out = tmp_path / "run"
    args = ["train", "--data-dir", str(tiny_dataset_dir), "--out", str(out), "--epochs", "1",
            "--actions", ",".join(ACTIONS)]
    if case == "out-is-file":
        out.write_text("x")
    if case == "empty-split":
        args += ["--subjects-train", "S42"]
    if case == "keypoints":
        args += ["--keypoints", "missing"]
    extra = {"device": ["--device", "cuda:99"], "frames": ["--frames", "500"],
             "test-subject": ["--subjects-test", "S9,S77"], "action": ["--actions", "Walking,Flying"]}
    args += extra.get(case, [])
    assert main(args) == 2
    err = capsys.readouterr().err
    assert {"out-is-file": "not a folder", "empty-split": "subject(s) S42 (file has: S1, ",
            "test-subject": "subject(s) S77 (file has: S1, ", "keypoints": "missing", "device": "cuda:99",
            "frames": "windows of 500 frames, but the longest sequence has",
            "action": "unknown action(s) Flying; the sequences of S1, S5, S6, S7, S8, S9, S11 have: "
                      "Directions, Discussion, "}[case] in err
    assert len(err.strip().splitlines()) == 1
    assert "Traceback" not in err
    if case != "out-is-file":
        assert not out.exists()


@pytest.mark.parametrize("setting, value, message", [
    ("lr_decay", 0.0, "lr_decay must be in (0, 1]"), ("weight_decay", -1.0, "weight_decay must be at least 0"),
    ("epochs", 0, "epochs must be at least 1"), ("lr", -1e-3, "lr must be positive")])
def test_config_refuses_bad_settings_in_its_own_terms(tmp_path, setting, value, message):
    with pytest.raises(StarposeError, match=re.escape(message)) as err:
        TrainConfig(data_dir=str(tmp_path), out=str(tmp_path / "run"), **{setting: value}).resolved()
    assert "--" not in str(err.value)


@pytest.mark.parametrize("value", ["-1", "0", "nan", "x"])
def test_cli_rejects_a_learning_rate_that_is_not_positive(tiny_dataset_dir, tmp_path, capsys, value):
    with pytest.raises(SystemExit) as exit_info:
        main(["train", "--data-dir", str(tiny_dataset_dir), "--out", str(tmp_path / "run"), "--lr", value])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "expected a positive number" in err and "Traceback" not in err
    assert not (tmp_path / "run").exists()


def test_squared_loss_mode_scales_the_gradient_by_the_loss(tiny_dataset_dir, tmp_path):
    """As published, ``backward(L)`` descends on 0.5 L^2: its gradient is L times that of L."""
    gen = torch.Generator().manual_seed(0)
    x, y = torch.randn(4, 27, 17, 2, generator=gen), 0.1 * torch.randn(4, 27, 17, 3, generator=gen)
    losses, grads = {}, {}
    for mode in ("squared", "plain"):
        trainer = Trainer(_config(tiny_dataset_dir, tmp_path / mode, loss_mode=mode))
        trainer.optimizer.step = lambda: None  # keep the gradients of the first step
        losses[mode] = trainer._step(x, y)["total"]
        grads[mode] = torch.cat([p.grad.flatten() for p in trainer.model.parameters()])
    assert losses["squared"] == pytest.approx(losses["plain"]) and losses["plain"] != pytest.approx(1.0)
    expected = losses["plain"] * grads["plain"]
    assert ((grads["squared"] - expected).norm() / expected.norm()).item() < 1e-5


def test_config_json_holds_the_resolved_model_and_evaluate_reads_best_pt(tiny_dataset_dir, tmp_path, capsys):
    run = tmp_path / "run"
    Trainer(_config(tiny_dataset_dir, run, epochs=1)).fit()
    written = json.loads((run / "config.json").read_text())
    assert written["model"] == {**written["model"], "num_frames": 27, "dim": 32, "depth": 2, "num_heads": 4,
                                "attention": "star"}
    assert main(["evaluate", "--data-dir", str(tiny_dataset_dir), "--checkpoint", str(run / "best.pt"),
                 "--subjects", "S9", "--actions", ",".join(ACTIONS), "--json", str(tmp_path / "e.json")]) == 0
    table = json.loads((tmp_path / "e.json").read_text())["tables"]["all"]
    best = read_checkpoint(run / "best.pt")
    # The trainer's validation is the same protocol on the same sequences.
    assert table["Average"]["mpjpe"] == pytest.approx(best["train_state"]["best"], rel=1e-5)
