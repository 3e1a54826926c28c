"""``train --resume`` on a finished run, with more epochs, and with options it must refuse."""
import pytest

from starpose.cli import main
from starpose.models.checkpoints import read_checkpoint

ARGS = ["--preset", "star-mixste-27", "--frames", "9", "--drop-path", "0.0", "--batch-size", "8", "--lr", "1e-3",
        "--subjects-train", "S1", "--subjects-test", "S9", "--actions", "Walking", "--max-batches-per-epoch", "2",
        "--device", "cpu", "--no-progress"]


@pytest.fixture(scope="module", autouse=True)
def small_preset():
    """The 27-frame preset shrunk to a tiny model: these tests are about files, not accuracy."""
    from dataclasses import replace

    from starpose.models import presets

    preset = presets.PRESETS["star-mixste-27"]
    with pytest.MonkeyPatch.context() as mp:
        mp.setitem(presets.PRESETS, "star-mixste-27",
                   replace(preset, model=replace(preset.model, dim=16, depth=1, num_heads=2)))
        yield


@pytest.fixture(scope="module")
def finished_run(small_preset, tiny_dataset_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("finished") / "run"
    assert main(["train", "--data-dir", str(tiny_dataset_dir), "--out", str(out), "--epochs", "1", *ARGS]) == 0
    return out


def _snapshot(folder):
    return {p.relative_to(folder): p.stat().st_mtime_ns for p in folder.rglob("*")}


def test_resuming_a_finished_run_says_so_and_writes_nothing(finished_run, capsys):
    before = _snapshot(finished_run)
    assert main(["train", "--resume", str(finished_run)]) == 0
    out = capsys.readouterr().out
    assert "finished (1 of 1 epochs)" in out and "--epochs" in out
    assert _snapshot(finished_run) == before


def test_an_option_a_resume_cannot_apply_is_refused(finished_run, capsys):
    assert main(["train", "--resume", str(finished_run), "--lr", "0.1", "--epochs", "2"]) == 2
    err = capsys.readouterr().err
    assert "--lr cannot be changed" in err and len(err.strip().splitlines()) == 1


def test_more_epochs_continue_the_run_and_its_learning_rate_schedule(finished_run, tmp_path, capsys):
    import shutil

    run = tmp_path / "run"
    shutil.copytree(finished_run, run)
    assert main(["train", "--resume", str(run), "--epochs", "2"]) == 0
    last = read_checkpoint(run / "last.pt")
    assert last["epoch"] == 2
    assert last["lr"] == pytest.approx(1e-3 * 0.99 ** 2)
    assert [row["epoch"] for row in last["train_state"]["rows"]] == [1, 2]
    assert main(["train", "--resume", str(run), "--epochs", "1"]) == 2
    assert "at least 2" in capsys.readouterr().err


def test_a_resume_removes_the_temporary_files_a_killed_checkpoint_write_left(finished_run, tmp_path, capsys):
    import shutil

    run = tmp_path / "run"
    shutil.copytree(finished_run, run)
    stale = [".last.pt.k2j4h1x9.new", "..last.pt.k2j4h1x9.new.a8d7f6g5.tmp", ".last.prev.pt.z0y9x8w7.link"]
    kept = [".notes.txt", ".last.pt.backup", ".metrics.csv.k2j4h1x9.tmp"]  # not a checkpoint writer's temporary
    for name in stale + kept:
        (run / name).write_bytes(b"partial")
    assert main(["train", "--resume", str(run), "--epochs", "2"]) == 0
    err = capsys.readouterr().err
    assert f"{run}: removed 3 temporary file(s) left by an interrupted write" in err
    assert not [name for name in stale if (run / name).exists()]
    assert all((run / name).read_bytes() == b"partial" for name in kept)
    assert read_checkpoint(run / "last.pt")["epoch"] == 2
