"""Lifting and rendering in a dataset's joints: HumanEva-I's 15 with a 15-joint model.

An untrained tiny 15-joint model: the tests check shapes, names, the skeleton drawn and the
refusals, not accuracy.
"""
import json

import numpy as np
import pytest
import torch

from starpose import save_checkpoint
from starpose.cli import main
from starpose.datasets.registry import get_dataset
from starpose.errors import DataError, StarposeError
from starpose.formats import Keypoints2D
from starpose.lift import lift_keypoints, read_result
from starpose.datasets.registry import recorded_dataset
from starpose.lift.dataset import lift_dataset, result_dataset
from starpose.models.mixste import MixSTE
from starpose.viz.animation import read_video_info
from tests.keypoint_writers import H, W, fake_motion, midpoints_in_2d, write_coco_results, write_npy

HUMANEVA = get_dataset("humaneva")
SIZE = ["--width", str(W), "--height", str(H)]


@pytest.fixture(scope="module")
def he(tmp_path_factory):
    """Tiny untrained 15-joint checkpoints (one recording its dataset) and 15-joint pixels."""
    torch.manual_seed(0)
    model = MixSTE(num_frames=9, num_joints=15, dim=32, depth=2, num_heads=4).eval()
    folder = tmp_path_factory.mktemp("he_model")
    xy = midpoints_in_2d(fake_motion(30, seed=6)[1])
    return {"model": model, "plain": str(save_checkpoint(folder / "he.pt", model)),
            "trained": str(save_checkpoint(folder / "he_run.pt", model, train_config={"dataset": "humaneva"})),
            "xy17": xy, "xy": xy[:, list(HUMANEVA.h36m_joints)]}


def test_a_15_joint_array_lifts_to_humaneva_joints(he, tmp_path, capsys):
    path = write_npy(tmp_path / "walk.npy", he["xy"])
    out = tmp_path / "walk3d.npz"
    assert main(["lift", str(path), "--checkpoint", he["plain"], "--out", str(out), *SIZE]) == 0
    assert "walk.npy: detected HumanEva-I-ordered keypoint array (walk: 30 frames" in capsys.readouterr().out
    result = np.load(out)
    assert result["positions_3d"].shape == (30, 15, 3) and np.all(result["positions_3d"][:, 0] == 0)
    assert tuple(result["joint_names"]) == HUMANEVA.skeleton.names
    assert result["keypoints_2d"].shape == (30, 15, 2)
    back = read_result(out)
    assert back["joint_names"] == HUMANEVA.skeleton.names and result_dataset(back, None, out) is HUMANEVA


def test_library_lift_flips_with_the_humaneva_left_and_right(he):
    xy = he["xy"][:12].astype(np.float32)
    kp = Keypoints2D(xy=xy, confidence=np.ones(xy.shape[:2], np.float32), width=W, height=H,
                     fps=None, source_format="h36m", name="memory")
    flipped = lift_keypoints(he["model"], kp)
    assert flipped["positions_3d"].shape == (12, 15, 3) and flipped["joint_names"] == list(HUMANEVA.skeleton.names)
    # The flip average of a mirrored input is the mirrored flip average, with HumanEva's pairs.
    mirrored = xy.copy()
    mirrored[..., 0] = W - mirrored[..., 0]
    mirrored = mirrored[:, HUMANEVA.skeleton.flip_permutation]
    again = lift_keypoints(he["model"], Keypoints2D(xy=mirrored, confidence=kp.confidence, width=W,
                                                    height=H, fps=None, source_format="h36m", name="m"))
    unmirrored = again["positions_3d"][:, HUMANEVA.skeleton.flip_permutation] * np.array([-1, 1, 1])
    np.testing.assert_allclose(unmirrored, flipped["positions_3d"], atol=1e-5)


def test_coco_detections_lift_with_a_humaneva_checkpoint_like_the_array(he, tmp_path):
    coco = write_coco_results(tmp_path / "walk.json", he["xy17"])
    array = write_npy(tmp_path / "walk.npy", he["xy"])
    assert main(["lift", str(coco), "--checkpoint", he["trained"], "--out", str(tmp_path / "c.npz")]) == 0
    assert main(["lift", str(array), "--checkpoint", he["trained"], "--out", str(tmp_path / "a.npz"), *SIZE]) == 0
    c, a = np.load(tmp_path / "c.npz"), np.load(tmp_path / "a.npz")
    assert tuple(c["joint_names"]) == HUMANEVA.skeleton.names
    np.testing.assert_allclose(c["keypoints_2d"], a["keypoints_2d"], atol=1e-3)
    np.testing.assert_allclose(c["positions_3d"], a["positions_3d"], atol=1e-4)


def test_render_draws_a_15_joint_result(he, tmp_path, capsys):
    path = write_npy(tmp_path / "walk.npy", he["xy"][:10])
    lifted, gif = tmp_path / "walk3d.json", tmp_path / "walk.gif"
    assert main(["lift", str(path), "--checkpoint", he["plain"], "--out", str(lifted), *SIZE]) == 0
    truth = tmp_path / "gt.npy"
    np.save(truth, fake_motion(10, seed=2)[0][:, list(HUMANEVA.h36m_joints)])
    code = main(["render", str(lifted), "--out", str(gif), "--ground-truth", str(truth),
                 "--plot", str(tmp_path / "t.png"), "--size", "300x100"])
    assert code == 0, capsys.readouterr().err
    info = read_video_info(gif)
    assert (info.num_frames, info.width, info.height) == (10, 300, 100)
    assert main(["render", str(lifted), "--out", str(tmp_path / "x.gif"), "--dataset", "h36m"]) == 2
    assert "walk3d.json: 15 joints per frame, but Human3.6M has 17" in capsys.readouterr().err
    assert not (tmp_path / "x.gif").exists()


@pytest.mark.parametrize("extra, message", [
    (["--dataset", "h36m"], "he_run.pt: the model was trained on HumanEva-I (humaneva), not Human3.6M (h36m)"),
    (["--out-format", "bvh"], "a BVH file holds the Human3.6M 17-joint skeleton, not the 15 HumanEva-I joints"),
])
def test_mismatches_are_one_line_and_write_nothing(he, tmp_path, capsys, extra, message):
    path = write_npy(tmp_path / "walk.npy", he["xy"])
    out = tmp_path / "out"
    assert main(["lift", str(path), "--checkpoint", he["trained"], "--out", str(out), *SIZE, *extra]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["walk.npy"]


def test_a_17_joint_array_is_refused_for_a_humaneva_model(he, tmp_path, capsys):
    path = write_npy(tmp_path / "h36m.npy", he["xy17"])
    assert main(["lift", str(path), "--checkpoint", he["plain"], "--out", str(tmp_path / "r.npz"), *SIZE]) == 2
    assert "h36m.npy: expected keypoints of shape (T, 15, 2)" in capsys.readouterr().err
    assert not (tmp_path / "r.npz").exists()


def test_the_dataset_comes_from_the_flag_the_record_or_the_joint_count():
    assert recorded_dataset({"train_config": {"dataset": "humaneva"}}) == "humaneva"
    assert recorded_dataset({"model_pos": {}}) is None
    assert recorded_dataset({"dataset": "h36m", "model": {}}) == "h36m"  # a packaged checkpoint
    assert lift_dataset(None, None, 15, "m.bin") is HUMANEVA
    assert lift_dataset(None, None, 17, "m.bin").name == "h36m"
    assert lift_dataset(None, "3dhp", 17, "m.pt").name == "3dhp"
    assert lift_dataset("humaneva", "unknown", 15, "m.onnx") is HUMANEVA
    with pytest.raises(StarposeError, match="m.bin: the model lifts 16 joints, the layout of no known dataset"):
        lift_dataset(None, None, 16, "m.bin")
    with pytest.raises(StarposeError, match="m.bin: the model lifts 17 joints, but HumanEva-I keypoints have 15"):
        lift_dataset("humaneva", None, 17, "m.bin")
    poses = np.zeros((2, 17, 3))
    assert result_dataset({"positions_3d": poses, "joint_names": None}, None, "r.npz").name == "h36m"
    names = get_dataset("3dhp").skeleton.names
    assert result_dataset({"positions_3d": poses, "joint_names": names}, None, "r.npz").name == "3dhp"
    with pytest.raises(DataError, match="r.npz: 17 joints per frame, but HumanEva-I has 15"):
        result_dataset({"positions_3d": poses}, "humaneva", "r.npz")


def test_json_result_of_15_joints_reads_back(he, tmp_path):
    path = write_npy(tmp_path / "walk.npy", he["xy"][:9])
    out = tmp_path / "r.json"
    assert main(["lift", str(path), "--checkpoint", he["plain"], "--out", str(out), *SIZE, "--no-flip"]) == 0
    data = json.loads(out.read_text())
    assert np.array(data["positions_3d"]).shape == (9, 15, 3) and data["joint_names"][-1] == "head"
