"""Format detection and the errors bad inputs give: one line naming the file and the problem."""
import json

import numpy as np
import pytest

from starpose.errors import StarposeError
from starpose.formats import detect_format, load_keypoints
from tests.keypoint_writers import H, W, fake_motion, write_npy, write_videopose3d


@pytest.mark.parametrize(
    "setup, message",
    [
        (lambda p: (p / "bad.json").write_text("{not json"), "not valid JSON"),
        (lambda p: (p / "odd.json").write_text(json.dumps({"hello": [1, 2]})), "cannot tell the keypoint format"),
        (lambda p: (p / "k.json").write_text(json.dumps([{"image_id": 0, "keypoints": [1.0] * 54}])), "expected 17 COCO keypoints"),
        (lambda p: (p / "empty.json").write_text("[]"), "cannot tell|no frames"),
        (lambda p: np.save(p / "j.npy", np.zeros((5, 18, 2))), r"\(T, 17, 2\)"),
        (lambda p: np.save(p / "z.npy", np.zeros((0, 17, 2))), "no frames"),
        (lambda p: (p / "f.txt").write_text("x"), "cannot tell"),
    ],
)
def test_bad_inputs_raise_clear_errors(tmp_path, setup, message):
    setup(tmp_path)
    path = next(tmp_path.iterdir())
    with pytest.raises(StarposeError, match=message) as err:
        load_keypoints(path, width=W, height=H)
    assert path.name in str(err.value)


def test_npz_files_are_told_apart_by_their_keys(tmp_path):
    xy = fake_motion(5, seed=2)[1]
    assert detect_format(write_videopose3d(tmp_path / "data_2d_custom_a.npz", {"a": xy})) == "videopose3d"
    np.savez(tmp_path / "kp.npz", keypoints=xy)
    assert detect_format(tmp_path / "kp.npz") == "h36m"
    assert detect_format(write_npy(tmp_path / "kp.npy", xy)) == "h36m"


@pytest.mark.parametrize(
    "name, content, message",
    [
        ("broken.npz", b"PK\x03\x04 not really a zip", "broken.npz: not a readable numpy file"),
        ("gone.json", None, "gone.json: no such file or folder"),
        ("frame_000000000000_keypoints.json", json.dumps({"people": [{"pose_keypoints_2d": []}]}),
         "pass the folder"),
    ],
)
def test_detection_errors_name_the_file(tmp_path, name, content, message):
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content) if isinstance(content, bytes) else path.write_text(content)
    with pytest.raises(StarposeError, match=message):
        detect_format(path)
