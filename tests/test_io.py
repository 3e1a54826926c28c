"""Atomic writing: the multi-file transaction and its one-file forms leave all or nothing."""
import os

import pytest

from starpose.errors import StarposeError
from starpose.io import atomic_files, atomic_path, atomic_write_text, temp_beside, temp_target


def test_files_replace_their_targets_together_at_the_end(tmp_path):
    old = tmp_path / "a.txt"
    old.write_text("old")
    with atomic_files() as stage:
        first, second = stage(old), stage(tmp_path / "new" / "b.csv")
        assert first.parent == tmp_path and first.suffix == ".txt" and second.suffix == ".csv"
        first.write_text("new")
        second.write_text("b")
        assert old.read_text() == "old"  # nothing moves before the block ends
    assert old.read_text() == "new" and (tmp_path / "new" / "b.csv").read_text() == "b"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt", "new"]  # no temporaries left


def test_a_failing_third_write_leaves_nothing(tmp_path):
    keep = tmp_path / "keep.npz"
    keep.write_text("previous")
    targets = [keep, tmp_path / "sub" / "deeper" / "two.json", tmp_path / "three.gif"]
    with pytest.raises(OSError, match="disk full"):
        with atomic_files() as stage:
            for i, target in enumerate(targets):
                tmp = stage(target)
                if i == 2:
                    raise OSError("disk full")
                tmp.write_text(f"file {i}")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.npz"]
    assert keep.read_text() == "previous"


def test_staged_outputs_remove_everything_when_a_step_fails(tmp_path):
    target = tmp_path / "a" / "b" / "r.npz"
    with pytest.raises(RuntimeError):
        with atomic_files() as stage:
            stage(target).write_text("partial")
            stage(tmp_path / "other.gif").write_text("partial")
            raise RuntimeError("rendering failed")
    assert list(tmp_path.iterdir()) == []


def test_a_file_in_the_way_of_a_folder_is_a_clear_error(tmp_path):
    (tmp_path / "blocker").write_text("x")
    with pytest.raises(StarposeError, match="blocker: exists and is not a folder"):
        with atomic_files() as stage:
            stage(tmp_path / "blocker" / "out.npz")


def test_atomic_path_and_text_build_on_the_transaction(tmp_path):
    target = tmp_path / "made" / "plot.png"
    with pytest.raises(ValueError):
        with atomic_path(target, suffix=None, make_parents=True) as tmp:
            assert tmp.suffix == ".png"
            tmp.write_text("half")
            raise ValueError("drawing failed")
    assert list(tmp_path.iterdir()) == []  # the folder it made is gone too
    with atomic_path(tmp_path / "x.bin") as tmp:
        assert tmp.suffix == ".tmp"
        tmp.write_bytes(b"1")
    assert (tmp_path / "x.bin").read_bytes() == b"1"
    with pytest.raises(StarposeError, match="cannot write here"):
        with atomic_path(tmp_path / "absent" / "y.bin"):
            pass
    path = atomic_write_text(tmp_path / "t.txt", "text")
    assert path.read_text() == "text" and oct(path.stat().st_mode & 0o777) == oct(0o666 & ~_umask())


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_temp_target_names_the_file_a_temporary_stands_in_for(tmp_path):
    new = temp_beside(tmp_path / "last.pt", suffix=".new")
    nested = temp_beside(new, suffix=".tmp")  # save_checkpoint's own temporary for the staged file
    kept = temp_beside(tmp_path / "best.pt", suffix="")
    assert [temp_target(p.name) for p in (new, nested, kept)] == ["last.pt", "last.pt", "best.pt"]
    for name in ("last.pt", ".last.pt", ".last.pt.backup", ".notes.txt", "last.pt.k2j4h1x9.new"):
        assert temp_target(name) is None, name
