"""Preprocessing of detector output: one person per frame, gaps filled, typed notes."""
import numpy as np
import pytest

from starpose.errors import StarposeError
from starpose.formats import Keypoints2D, NoteKind, fill_missing, load_keypoints
from tests.keypoint_writers import (
    H,
    W,
    fake_motion,
    linear_motion,
    load_one,
    midpoints_in_2d,
    write_coco_results,
    write_npy,
)


@pytest.fixture(scope="module")
def motion():
    return fake_motion(40, seed=1)[1]


def test_several_people_keep_the_most_confident_track(tmp_path, motion):
    stranger = motion + np.array([300.0, 0.0])
    path = write_coco_results(tmp_path / "crowd.json", motion, extra_people=[stranger])
    kp = load_one(path)
    np.testing.assert_allclose(kp.xy, midpoints_in_2d(motion), atol=1e-3)
    assert [note.kind for note in kp.notes] == [NoteKind.SEVERAL_PEOPLE]
    assert "several people" in kp.notes[0].text and not kp.notes[0].kind.is_warning


def test_track_follows_the_previous_hip_over_a_slightly_better_stranger(tmp_path, motion):
    stranger = motion + np.array([300.0, 0.0])
    conf = np.full((40, 17), 0.9)
    conf[20:] = 0.45  # the stranger (0.5) now scores higher, but the subject is still plausible
    path = write_coco_results(tmp_path / "crowd.json", motion, conf=conf, extra_people=[stranger])
    kp = load_one(path)
    np.testing.assert_allclose(kp.xy, midpoints_in_2d(motion), atol=1e-3)


def test_missing_frames_and_unsure_joints_are_interpolated_exactly(tmp_path, capsys):
    xy = linear_motion(20)
    conf = np.full((20, 17), 0.9)
    conf[5:8, 13] = 0.1  # unsure left wrist, interior
    conf[0:2, 3] = 0.0   # right foot missing at the start: nearest valid frame
    conf[18:, 16] = 0.2  # right wrist unsure at the end
    noisy = xy.copy()
    noisy[conf < 0.3] += 500.0  # garbage where unsure: must not leak into the result
    kp = load_one(write_npy(tmp_path / "lin.npy", noisy, conf), width=W, height=H)
    expected = xy.copy()
    expected[0:2, 3] = xy[2, 3]
    expected[18:, 16] = xy[17, 16]
    np.testing.assert_allclose(kp.xy, expected, atol=1e-3)
    assert kp.filled.sum() == 3 + 2 + 2
    assert [note.kind for note in kp.notes] == [NoteKind.FILLED_JOINTS]
    assert "filled 7 of 340 joint positions (2.1 %)" in kp.notes[0].text


def test_frames_without_a_person_are_interpolated(tmp_path):
    xy = linear_motion(20)
    path = write_coco_results(tmp_path / "gaps.json", xy, skip_frames={3, 4, 10})
    kp = load_one(path)
    assert kp.num_frames == 20
    np.testing.assert_allclose(kp.xy, midpoints_in_2d(xy), atol=1e-3)
    assert any(n.kind is NoteKind.FILLED_JOINTS and "3 frame(s) had no person" in n.text
               for n in kp.notes)


def test_nan_keypoints_count_as_missing(tmp_path):
    xy = linear_motion(10)
    broken = xy.copy()
    broken[4, 9] = np.nan
    kp = load_one(write_npy(tmp_path / "nan.npy", broken), width=W, height=H)
    np.testing.assert_allclose(kp.xy, xy, atol=1e-3)


def test_min_confidence_is_configurable(tmp_path):
    xy = linear_motion(10)
    conf = np.full((10, 17), 0.5)
    path = write_npy(tmp_path / "c.npy", xy, conf)
    assert not load_one(path, width=W, height=H).filled.any()
    with pytest.raises(StarposeError, match="every keypoint's confidence is below the minimum 0.6"):
        load_keypoints(path, width=W, height=H, min_confidence=0.6)
    conf[:, 4] = 0.7  # one joint confident, the others never: they cannot be filled
    path = write_npy(tmp_path / "c.npy", xy, conf)
    with pytest.raises(StarposeError, match="every frame"):
        load_keypoints(path, width=W, height=H, min_confidence=0.6)


def test_filling_reports_a_typed_warning_and_marks_the_filled_positions():
    xy = linear_motion(8).astype(np.float32)
    conf = np.ones((8, 17), np.float32)
    conf[3, 5] = 0.0
    kp = Keypoints2D(xy=xy, confidence=conf, width=W, height=H, fps=None, source_format="h36m",
                     name="memory")
    filled = fill_missing(kp)
    assert filled.filled.sum() == 1 and filled.filled[3, 5]
    (note,) = filled.notes
    assert note.kind is NoteKind.FILLED_JOINTS and note.kind.is_warning
    assert str(note) == note.text and note.text.startswith("memory: filled 1 of 136")
    assert not kp.notes  # the input is left as it was


def test_a_crowded_sequence_with_gaps_has_one_note_of_each_kind(tmp_path, motion):
    stranger = motion + np.array([300.0, 0.0])
    path = write_coco_results(tmp_path / "crowd.json", motion, extra_people=[stranger],
                              skip_frames={7})
    kp = load_one(path)
    assert [note.kind for note in kp.notes] == [NoteKind.SEVERAL_PEOPLE, NoteKind.FILLED_JOINTS]
    assert [note.kind.is_warning for note in kp.notes] == [False, True]
