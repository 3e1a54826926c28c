"""Frame numbers: every sequence keeps the input's own frame numbering, gaps become missing frames."""
import json

import numpy as np
import pytest

from starpose.formats import NoteKind, read_json
from starpose.formats.frames import frame_number, order_frames
from tests.keypoint_writers import (
    H,
    W,
    linear_motion,
    load_one,
    midpoints_in_2d,
    write_coco_frames,
    write_coco_results,
    write_mediapipe_csv,
    write_npy,
    write_openpose_dir,
    write_videopose3d,
)


def _renumber_coco(path, first, skip=()):
    """Shift a COCO results file's ``image_id``s to start at ``first``, dropping those in ``skip``."""
    obj = read_json(path)
    detections = [dict(d, image_id=d["image_id"] + first) for d in obj["annotations"]]
    obj["annotations"] = [d for d in detections if d["image_id"] not in skip]
    path.write_text(json.dumps(obj))
    return path


def _filled_frames(kp):
    return np.flatnonzero(kp.filled.all(axis=1)).tolist()


def test_coco_clip_starting_at_image_id_5_starts_at_frame_5(tmp_path):
    xy = linear_motion(12)
    kp = load_one(_renumber_coco(write_coco_results(tmp_path / "c.json", xy), first=5))
    assert kp.frame_index.tolist() == list(range(5, 17))
    np.testing.assert_allclose(kp.xy, midpoints_in_2d(xy), atol=1e-3)
    assert not kp.filled.any()


def test_a_gap_of_two_frames_is_kept_as_missing_frames_and_counted(tmp_path):
    xy = linear_motion(12)
    path = _renumber_coco(write_coco_results(tmp_path / "c.json", xy), first=5, skip={9, 10})
    kp = load_one(path)
    assert kp.num_frames == 12 and kp.frame_index.tolist() == list(range(5, 17))
    assert _filled_frames(kp) == [4, 5]  # video frames 9 and 10, not closed up
    np.testing.assert_allclose(kp.xy, midpoints_in_2d(xy), atol=1e-3)  # linear: exact
    (note,) = [n for n in kp.notes if n.kind is NoteKind.FILLED_JOINTS]
    assert "2 frame(s) had no person" in note.text


def test_wide_mediapipe_csv_with_a_missing_row_does_not_shift_later_frames(tmp_path):
    xy = linear_motion(10)
    path = write_mediapipe_csv(tmp_path / "wide.csv", xy, wide=True)
    lines = path.read_text().splitlines()
    del lines[1 + 4]  # the row of frame 4
    path.write_text("\n".join(lines) + "\n")
    kp = load_one(path, width=W, height=H)
    assert kp.num_frames == 10 and kp.frame_index.tolist() == list(range(10))
    assert _filled_frames(kp) == [4]
    np.testing.assert_allclose(kp.xy, midpoints_in_2d(xy), atol=1e-3)


def test_wide_mediapipe_csv_rows_are_ordered_by_their_frame_column(tmp_path):
    xy = linear_motion(6)
    path = write_mediapipe_csv(tmp_path / "wide.csv", xy, wide=True)
    header, *rows = path.read_text().splitlines()
    rows = [",".join([str(int(r.split(",")[0]) + 100)] + r.split(",")[1:]) for r in rows]
    path.write_text("\n".join([header] + rows[::-1]) + "\n")
    kp = load_one(path, width=W, height=H)
    assert kp.frame_index.tolist() == list(range(100, 106))
    np.testing.assert_allclose(kp.xy, midpoints_in_2d(xy), atol=1e-3)


def test_openpose_file_numbers_are_the_frame_numbers(tmp_path):
    xy = linear_motion(8)
    folder = write_openpose_dir(tmp_path / "op", xy)
    for t in sorted(range(8), reverse=True):  # renumber 0..7 -> 5..12, then drop frame 7
        (folder / f"clip_{t:012d}_keypoints.json").rename(folder / f"clip_{t + 5:012d}_keypoints.json")
    (folder / f"clip_{7:012d}_keypoints.json").unlink()
    kp = load_one(folder, width=W, height=H)
    assert kp.frame_index.tolist() == list(range(5, 13)) and _filled_frames(kp) == [2]
    np.testing.assert_allclose(kp.xy, midpoints_in_2d(xy), atol=1e-3)


def test_frame_records_keep_their_numbers(tmp_path):
    path = write_coco_frames(tmp_path / "f.json", linear_motion(6))
    obj = read_json(path)
    obj["frames"] = [dict(f, frame=f["frame"] + 3) for f in obj["frames"]]
    path.write_text(json.dumps(obj))
    assert load_one(path).frame_index.tolist() == list(range(3, 9))


def test_inputs_without_numbers_count_from_zero(tmp_path):
    xy = linear_motion(7)
    array = load_one(write_npy(tmp_path / "a.npy", xy), width=W, height=H)
    assert array.frame_index.tolist() == list(range(7))
    video = load_one(write_videopose3d(tmp_path / "data_2d_custom_v.npz", {"v.mp4": xy}))
    assert video.frame_index.tolist() == list(range(7))


def test_sparse_image_ids_are_kept_but_not_filled_with_a_note(tmp_path):
    xy = linear_motion(4)
    path = write_coco_results(tmp_path / "c.json", xy)
    obj = read_json(path)
    ids = [397133, 37777, 252219, 87038]
    for d in obj["annotations"]:
        d["image_id"] = ids[d["image_id"]]
    path.write_text(json.dumps(obj))
    kp = load_one(path)
    assert kp.frame_index.tolist() == sorted(ids) and not kp.filled.any()
    note = next(n for n in kp.notes if n.kind is NoteKind.SPARSE_FRAME_IDS)
    assert "too sparse" in note.text and not note.kind.is_warning


@pytest.mark.parametrize("text, number", [
    (5, 5), ("5", 5), ("5.0", 5), ("img_0042.jpg", 42), ("clip_000000000005_keypoints", 5),
    ("0.04", None), ("abc", None), (True, None), ("9" * 30, None), (float("nan"), None),
])
def test_frame_number(text, number):
    assert frame_number(text) == number


def test_times_are_ordered_by_value_and_numbered_from_zero():
    ordered = order_frames({"0.08": ["c"], "0.04": ["b"], "10.0": ["d"], "0.0": ["a"]})
    assert ordered.frames == [["a"], ["b"], ["c"], ["d"]] and ordered.index is None


def test_wide_mediapipe_csv_with_times_keeps_the_rows_order(tmp_path):
    xy = linear_motion(5)
    path = write_mediapipe_csv(tmp_path / "wide.csv", xy, wide=True)
    header, *rows = path.read_text().splitlines()
    rows = [",".join([f"{0.04 * t:.2f}"] + r.split(",")[1:]) for t, r in enumerate(rows)]
    path.write_text("\n".join([header.replace("frame", "t", 1)] + rows) + "\n")
    kp = load_one(path, width=W, height=H)
    assert kp.frame_index.tolist() == list(range(5))
    np.testing.assert_allclose(kp.xy, midpoints_in_2d(xy), atol=1e-3)
