"""Reliability guarantees that run in-process or in one small subprocess: checksums, the
last.pt / last.prev.pt fallback, full disk (RLIMIT_FSIZE), the run folder lock, resume options."""
import os
import subprocess
import sys
import textwrap

import pytest

from starpose.cli import main
from starpose.errors import CheckpointError, StarposeError
from starpose.models.checkpoints import read_checkpoint, save_checkpoint
from starpose.models.mixste import MixSTE, MixSTEConfig
from starpose.train.run_checkpoints import PREV, read_resume_checkpoint, rotate_in
from starpose.runlock import LOCK_NAME, folder_lock
from starpose.train.log import StepLog

SRC = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "src")


def _model(seed=0):
    import torch

    torch.manual_seed(seed)
    return MixSTE.from_config(MixSTEConfig(num_frames=9, dim=8, depth=1, num_heads=2))


def _flip_in_weights(path):
    """Flip one bit inside the stored bytes of the largest weight (the zip still reads)."""
    weights = max(read_checkpoint(path)["model"].values(), key=lambda t: t.numel())
    data = bytearray(path.read_bytes())
    at = bytes(data).find(weights.numpy().tobytes())
    assert at > 0
    data[at + 5] ^= 0x10
    path.write_bytes(bytes(data))


def _train_state(epoch, step):
    return {"epoch": epoch, "train_state": {"batch_in_epoch": step}}


def test_a_flipped_bit_in_the_weights_fails_the_checksum(tmp_path):
    path = save_checkpoint(tmp_path / "a.pt", _model())
    _flip_in_weights(path)
    with pytest.raises(CheckpointError, match="checksum does not match"):
        read_checkpoint(path)


@pytest.mark.parametrize("keep", [0.0, 0.3, 0.9, 0.999])
def test_a_truncated_checkpoint_is_one_clear_error(tmp_path, keep):
    path = save_checkpoint(tmp_path / "a.pt", _model())
    path.write_bytes(path.read_bytes()[: int(path.stat().st_size * keep)])
    with pytest.raises(CheckpointError) as err:
        read_checkpoint(path)
    assert str(err.value).startswith(str(path)) and "\n" not in str(err.value)


def test_a_text_file_as_checkpoint_gives_one_line_and_exit_2(tmp_path, capsys):
    text = tmp_path / "notes.txt"
    text.write_text("these are not weights\n")
    code = main(["evaluate", "--checkpoint", str(text), "--data-dir", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_rotation_keeps_the_previous_checkpoint_and_resume_falls_back_to_it(tmp_path):
    for step in (1, 2):
        rotate_in(tmp_path, lambda p, s=step: save_checkpoint(p, _model(s), **_train_state(0, s)))
    assert read_checkpoint(tmp_path / PREV)["train_state"]["batch_in_epoch"] == 1
    _flip_in_weights(tmp_path / "last.pt")
    warnings = []
    data, used = read_resume_checkpoint(tmp_path, warn=warnings.append)
    assert used.name == PREV and data["train_state"]["batch_in_epoch"] == 1
    assert "checksum" in warnings[0] and "epoch 1, step 1" in warnings[0] and "lost" in warnings[0]
    (tmp_path / PREV).write_bytes(b"junk")
    with pytest.raises(CheckpointError, match="previous checkpoint is unusable too"):
        read_resume_checkpoint(tmp_path, warn=warnings.append)


def test_a_missing_last_pt_falls_back_to_the_previous_one(tmp_path):
    for step in (1, 2):
        rotate_in(tmp_path, lambda p, s=step: save_checkpoint(p, _model(s), **_train_state(0, s)))
    (tmp_path / "last.pt").unlink()  # a kill between the two renames on a file system without hard links
    data, used = read_resume_checkpoint(tmp_path, warn=lambda text: None)
    assert used.name == PREV


FULL_DISK = textwrap.dedent("""
    import resource, signal, sys
    from pathlib import Path
    import torch
    from starpose.errors import StarposeError
    from starpose.models.checkpoints import save_checkpoint
    from starpose.models.mixste import MixSTE, MixSTEConfig
    from starpose.train.run_checkpoints import rotate_in
    run = Path(sys.argv[1])
    small = MixSTE.from_config(MixSTEConfig(num_frames=9, dim=8, depth=1, num_heads=2))
    big = MixSTE.from_config(MixSTEConfig(num_frames=9, dim=64, depth=2, num_heads=2))
    rotate_in(run, lambda p: save_checkpoint(p, small, epoch=1))
    rotate_in(run, lambda p: save_checkpoint(p, small, epoch=2))
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    limit = (run / "last.pt").stat().st_size * 2
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    try:
        rotate_in(run, lambda p: save_checkpoint(p, big, epoch=3))
    except StarposeError as err:
        print(err)
        sys.exit(2)
""")


def test_a_full_disk_stops_with_one_line_and_leaves_the_checkpoints_intact(tmp_path):
    env = dict(os.environ, PYTHONPATH=SRC)
    proc = subprocess.run([sys.executable, "-c", FULL_DISK, str(tmp_path)], capture_output=True, text=True,
                          env=env, timeout=120)
    assert proc.returncode == 2, proc.stderr
    line = proc.stdout.strip()
    assert len(line.splitlines()) == 1 and "last.pt" in line and "file size limit" in line
    assert read_checkpoint(tmp_path / "last.pt")["epoch"] == 2
    assert read_checkpoint(tmp_path / PREV)["epoch"] == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last.prev.pt", "last.pt"]


LOCKER = "import sys; from starpose.runlock import folder_lock\nwith folder_lock(sys.argv[1]): print('locked')"


def test_a_second_process_cannot_take_a_held_folder_lock(tmp_path):
    env = dict(os.environ, PYTHONPATH=SRC)
    with folder_lock(tmp_path, "training run"):
        proc = subprocess.run([sys.executable, "-c", LOCKER, str(tmp_path)], capture_output=True, text=True,
                              env=env, timeout=60)
    assert proc.returncode != 0 and f"process {os.getpid()} on" in proc.stderr
    assert "another run is writing here" in proc.stderr


def test_a_stale_lock_is_taken_over_with_a_note(tmp_path):
    (tmp_path / LOCK_NAME).write_text("999999 otherhost starpose\n")
    notes = []
    with folder_lock(tmp_path, note=notes.append):
        assert (tmp_path / LOCK_NAME).read_text().startswith(f"{os.getpid()} ")
    assert "took over the lock of process 999999 on otherhost" in notes[0]
    assert (tmp_path / LOCK_NAME).read_text() == ""


def test_the_step_log_line_names_step_loss_and_speed(capsys):
    log = StepLog(every=2, total=10)
    for step in (1, 2, 3, 4):
        log.step(0, step, 0.5, {"frames": 2430, "seconds": 2.0})
    assert capsys.readouterr().out.splitlines() == ["epoch 1 step 2/10  loss 0.5000  1,215 frames/s",
                                                    "epoch 1 step 4/10  loss 0.5000  1,215 frames/s"]


@pytest.mark.parametrize("out", ["/proc/starpose-run", "FILE/run"])
def test_train_out_that_cannot_be_a_folder_is_one_line(tiny_dataset_dir, tmp_path, capsys, out):
    (tmp_path / "FILE").write_text("x")
    out = out.replace("FILE", str(tmp_path / "FILE"))
    code = main(["train", "--data-dir", str(tiny_dataset_dir), "--out", out, "--epochs", "1",
                 "--subjects-train", "S1", "--subjects-test", "S9", "--actions", "Walking",
                 "--max-batches-per-epoch", "1", "--device", "cpu", "--frames", "9"])
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "run folder" in err or "is not a folder" in err
