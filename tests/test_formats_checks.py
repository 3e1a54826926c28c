"""Sanity checks on what a reader found: a wrong image size, pixel landmarks, no keypoints."""
import numpy as np
import pytest

from starpose.formats import NoKeypointsError, NoteKind, load_keypoints
from tests.keypoint_writers import (
    H,
    W,
    linear_motion,
    load_one,
    write_coco_results,
    write_mediapipe_csv,
    write_mediapipe_json,
    write_npy,
)


def _kinds(kp):
    return [note.kind for note in kp.notes]


def test_keypoints_mostly_outside_the_image_size_give_a_warning(tmp_path):
    path = write_npy(tmp_path / "a.npy", linear_motion(10))
    assert NoteKind.OUTSIDE_IMAGE not in _kinds(load_one(path, width=W, height=H))
    kp = load_one(path, width=W / 4, height=H / 4)  # a quarter of the real size
    (note,) = [n for n in kp.notes if n.kind is NoteKind.OUTSIDE_IMAGE]
    assert note.kind.is_warning and "lie outside the 250x200 px image" in note.text
    assert "is the image size right?" in note.text


def test_mediapipe_pixels_instead_of_fractions_give_one_warning(tmp_path):
    xy = linear_motion(10)
    path = write_mediapipe_csv(tmp_path / "px.csv", xy, size=(1, 1))  # pixels, not divided
    kp = load_one(path, width=W, height=H)
    assert NoteKind.PIXEL_LANDMARKS in _kinds(kp) and NoteKind.OUTSIDE_IMAGE not in _kinds(kp)
    note = next(n for n in kp.notes if n.kind is NoteKind.PIXEL_LANDMARKS)
    assert note.kind.is_warning and "look like pixels" in note.text
    fractions = write_mediapipe_csv(tmp_path / "ok.csv", xy)
    assert NoteKind.PIXEL_LANDMARKS not in _kinds(load_one(fractions, width=W, height=H))


def test_a_forced_format_that_finds_nothing_says_what_the_file_looks_like(tmp_path):
    path = write_mediapipe_json(tmp_path / "mp.json", linear_motion(5))
    with pytest.raises(NoKeypointsError, match="no COCO-17 keypoints JSON keypoints found in 5 frame") as err:
        load_keypoints(path, "coco", width=W, height=H)
    assert err.value.detected == "mediapipe" and "looks like MediaPipe Pose 33 landmarks" in str(err.value)
    coco = write_coco_results(tmp_path / "c.json", linear_motion(5))
    with pytest.raises(NoKeypointsError, match="looks like COCO-17 keypoints JSON") as err:
        load_keypoints(coco, "openpose")  # the reader itself fails: a file, not a folder
    assert err.value.detected == "coco"


def test_every_confidence_zero_is_refused_with_the_highest_confidence(tmp_path):
    path = write_coco_results(tmp_path / "zero.json", linear_motion(5), conf=np.zeros((5, 17)))
    with pytest.raises(NoKeypointsError, match="below the minimum 0.3 \\(the highest is 0\\)") as err:
        load_keypoints(path)
    assert err.value.highest_confidence == 0 and err.value.detected is None
    assert load_one(path, min_confidence=0).num_frames == 5


def test_the_lift_command_names_the_options_to_try(tmp_path, capsys):
    from starpose.cli import main

    mediapipe = write_mediapipe_json(tmp_path / "mp.json", linear_motion(5))
    zero = write_coco_results(tmp_path / "zero.json", linear_motion(5), conf=np.zeros((5, 17)))
    out = tmp_path / "r.npz"
    assert main(["lift", str(mediapipe), "--format", "coco", "--checkpoint", "none.pt",
                 "--out", str(out), "--width", "10", "--height", "10"]) == 2
    err = capsys.readouterr().err
    assert "(try --format mediapipe)" in err and len(err.strip().splitlines()) == 1
    assert main(["lift", str(zero), "--checkpoint", "none.pt", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "(try --min-confidence 0)" in err and len(err.strip().splitlines()) == 1
    assert not out.exists()


def test_a_low_but_nonzero_threshold_hint(tmp_path, capsys):
    from starpose.cli import main

    path = write_coco_results(tmp_path / "low.json", linear_motion(5), conf=np.full((5, 17), 0.2))
    assert main(["lift", str(path), "--checkpoint", "none.pt", "--out", str(tmp_path / "r.npz")]) == 2
    assert "(try a lower --min-confidence (at most 0.2))" in capsys.readouterr().err
