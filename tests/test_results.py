"""Result files: what ``write_result`` writes in each format and ``read_result`` reads back."""
import csv
import json

import numpy as np
import pytest

from starpose.errors import DataError, StarposeError
from starpose.lift import read_ground_truth, read_result, write_result
from tests.keypoint_writers import H36M, fake_motion


def _result(frames=6, fps=None):
    poses, xy = fake_motion(frames, seed=7)
    return {
        "positions_3d": (poses - poses[:, :1]).astype(np.float32),
        "keypoints_2d": xy.astype(np.float32),
        "confidence": np.full((frames, 17), 0.9, np.float32),
        "filled": np.zeros((frames, 17), bool),
        "joint_names": list(H36M),
        "fps": fps,
        "image_size": (1000.0, 800.0),
        "source": "walk.npy",
        "source_format": "h36m",
        "name": "walk",
    }


@pytest.mark.parametrize("suffix", [".npz", ".json"])
def test_npz_and_json_results_read_back(tmp_path, suffix):
    result = _result(fps=50.0)
    path = write_result(result, tmp_path / f"r{suffix}")
    back = read_result(path)
    np.testing.assert_allclose(back["positions_3d"], result["positions_3d"], atol=1e-6)
    np.testing.assert_allclose(back["keypoints_2d"], result["keypoints_2d"], atol=1e-4)
    assert back["image_size"] == (1000, 800) and back["fps"] == 50.0


def test_npz_needs_no_pickles_and_json_stores_unknown_fps_as_null(tmp_path):
    result = _result()
    stored = np.load(write_result(result, tmp_path / "r.npz"), allow_pickle=False)
    assert list(stored["joint_names"]) == list(H36M) and np.isnan(stored["fps"])
    assert str(stored["source_format"]) == "h36m"
    assert read_result(tmp_path / "r.npz")["fps"] is None
    data = json.loads(write_result(result, tmp_path / "r.json").read_text())
    assert data["fps"] is None and data["image_size"] == [1000.0, 800.0]


def test_csv_has_a_row_per_frame_and_joint_with_time(tmp_path):
    result = _result(frames=4, fps=20.0)
    with write_result(result, tmp_path / "r.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 4 * 17 and rows[17 * 2]["time_s"] == "0.100000"
    assert rows[17 * 3 + 16]["joint"] == "RWrist"
    assert float(rows[17 * 3 + 16]["y"]) == pytest.approx(result["positions_3d"][3, 16, 1], abs=1e-6)


def test_a_bare_array_is_read_as_positions(tmp_path):
    poses = _result()["positions_3d"]
    np.save(tmp_path / "p.npy", poses)
    np.savez(tmp_path / "p.npz", anything=poses)
    for name in ("p.npy", "p.npz"):
        back = read_result(tmp_path / name)
        assert np.array_equal(back["positions_3d"], poses) and back["keypoints_2d"] is None


def test_ground_truth_is_made_root_relative_and_must_match_the_frames(tmp_path):
    poses = fake_motion(6, seed=8)[0]
    np.savez(tmp_path / "gt.npz", positions_3d=poses)
    truth = read_ground_truth(tmp_path / "gt.npz", 6)
    assert np.all(truth[:, 0] == 0)
    np.testing.assert_allclose(truth[:, 5] + poses[:, 0], poses[:, 5], atol=1e-6)
    with pytest.raises(DataError, match="gt.npz: 6 frames, but the lifted result has 9"):
        read_ground_truth(tmp_path / "gt.npz", 9)


@pytest.mark.parametrize(
    "name, write, message",
    [
        ("none.npz", None, "none.npz: no such file"),
        ("r.txt", lambda p: p.write_text("x"), "expected a lifted result"),
        ("shape.npz", lambda p: np.savez(p, positions_3d=np.zeros((4, 16, 3))), r"\(T, 17, 3\)"),
        ("keys.npz", lambda p: np.savez(p, a=np.zeros(2), b=np.zeros(2)), "no 'positions_3d'"),
        ("nan.json", lambda p: p.write_text(json.dumps({"positions_3d": [[[None] * 3] * 17]})),
         "NaN or infinite"),
        ("list.json", lambda p: p.write_text("[1, 2]"), "expected a JSON object"),
        ("obj.npz", lambda p: np.savez(p, positions_3d=np.array([{}], dtype=object)), "refused"),
        # fuzz case result-npz 1581: fps stored as bytes
        ("fps.npz", lambda p: np.savez(p, positions_3d=np.zeros((2, 17, 3)), fps=np.array(b"")), "fps is not a number"),
        ("fps.json", lambda p: p.write_text(json.dumps({"positions_3d": [[[0] * 3] * 17], "fps": [1, 2]})),
         "fps is not a number"),
    ],
)
def test_bad_results_raise_data_errors_naming_the_file(tmp_path, name, write, message):
    path = tmp_path / name
    if write is not None:
        write(path)
    with pytest.raises(DataError, match=message) as err:
        read_result(path)
    assert name in str(err.value)


def test_an_unknown_result_extension_is_refused_before_writing(tmp_path):
    with pytest.raises(StarposeError, match="unknown result format"):
        write_result(_result(), tmp_path / "r.txt")
    assert list(tmp_path.iterdir()) == []
