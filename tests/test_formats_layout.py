"""Keypoints in the joints of the model's dataset: arrays named, Human3.6M-17 reduced to HumanEva-I-15."""
import numpy as np
import pytest

from starpose.datasets.registry import get_dataset
from starpose.errors import DataError
from starpose.formats import H36M_NAMES, Keypoints2D, load_keypoints, to_layout
from tests.keypoint_writers import H, W, fake_motion, midpoints_in_2d, write_coco_results, write_npy

HUMANEVA = get_dataset("humaneva")
#: The Human3.6M joint standing for each HumanEva-I joint, written out by hand.
_H36M_OF = {"pelvis": "Hip", "thorax": "Thorax", "head": "Head",
            "lshoulder": "LShoulder", "lelbow": "LElbow", "lwrist": "LWrist",
            "rshoulder": "RShoulder", "relbow": "RElbow", "rwrist": "RWrist",
            "lhip": "LHip", "lknee": "LKnee", "lankle": "LFoot",
            "rhip": "RHip", "rknee": "RKnee", "rankle": "RFoot"}


def _kp(xy, names=()):
    conf = np.linspace(0.5, 1.0, xy.shape[1])[None].repeat(len(xy), 0).astype(np.float32)
    return Keypoints2D(xy=xy.astype(np.float32), confidence=conf, width=W, height=H, fps=None,
                       source_format="coco", name="clip", path="clip.json", joint_names=names)


def test_human36m_joints_reduce_to_humaneva_by_name():
    xy = fake_motion(5, seed=1)[1]
    kp = _kp(xy, H36M_NAMES)
    kp.filled = np.zeros(xy.shape[:2], bool)
    kp.filled[2, 13] = True  # LWrist of Human3.6M is lwrist (4) of HumanEva-I
    out = to_layout(kp, HUMANEVA)
    assert out.xy.shape == (5, 15, 2) and out.joint_names == HUMANEVA.skeleton.names
    for j, name in enumerate(HUMANEVA.skeleton.names):
        source = H36M_NAMES.index(_H36M_OF[name])
        np.testing.assert_array_equal(out.xy[:, j], kp.xy[:, source])
        np.testing.assert_array_equal(out.confidence[:, j], kp.confidence[:, source])
    assert out.filled[2, 4] and out.filled.sum() == 1


def test_an_unnamed_array_takes_the_datasets_names_if_its_joint_count_fits():
    xy = fake_motion(4, seed=2)[1][:, list(HUMANEVA.h36m_joints)]
    assert to_layout(_kp(xy), HUMANEVA).joint_names == HUMANEVA.skeleton.names
    with pytest.raises(DataError, match=r"clip.json: expected keypoints of shape \(T, 17, 2\) or "
                                        r"\(T, 17, 3\) in Human3.6M joint order"):
        to_layout(_kp(xy), get_dataset("h36m"))


def test_a_layout_without_a_map_is_refused_in_one_line():
    with pytest.raises(DataError, match="clip.json: this COCO-17 keypoints JSON gives 17 joints .* no map "
                                        "to the 17 MPI-INF-3DHP joints"):
        to_layout(_kp(fake_motion(3)[1], H36M_NAMES), get_dataset("3dhp"))


def test_load_keypoints_reads_coco_and_arrays_for_humaneva(tmp_path):
    xy = fake_motion(12, seed=4)[1]
    coco = load_keypoints(write_coco_results(tmp_path / "c.json", xy), dataset=HUMANEVA)[0]
    expected = midpoints_in_2d(xy)[:, list(HUMANEVA.h36m_joints)]
    np.testing.assert_allclose(coco.xy, expected, atol=1e-3)
    assert coco.joint_names == HUMANEVA.skeleton.names
    array = load_keypoints(write_npy(tmp_path / "a.npy", expected), width=W, height=H, dataset=HUMANEVA)[0]
    np.testing.assert_allclose(array.xy, expected, atol=1e-3)
    with pytest.raises(DataError, match=r"b.npy: expected keypoints of shape \(T, 15, 2\) .* HumanEva-I "
                                        r"joint order \(pelvis, thorax, .*got 17 joints"):
        load_keypoints(write_npy(tmp_path / "b.npy", xy), width=W, height=H, dataset=HUMANEVA)
    with pytest.raises(DataError, match=r"image width and height \(in pixels\) \(HumanEva-I's cameras: 640x480\)"):
        load_keypoints(tmp_path / "a.npy", dataset=HUMANEVA)


def test_videopose3d_files_in_the_humaneva15_layout_are_read_as_they_are(tmp_path):
    xy = fake_motion(10, seed=5)[1][:, list(HUMANEVA.h36m_joints)].astype(np.float32)
    metadata = {"layout_name": "humaneva15", "num_joints": 15,
                "video_metadata": {"walk.mp4": {"w": 640, "h": 480}}}
    np.savez(tmp_path / "he.npz", positions_2d={"walk.mp4": {"custom": [xy]}}, metadata=metadata)
    kp = load_keypoints(tmp_path / "he.npz", dataset=HUMANEVA)[0]
    np.testing.assert_allclose(kp.xy, xy)
    assert (kp.width, kp.height) == (640, 480) and kp.joint_names == HUMANEVA.skeleton.names
    with pytest.raises(DataError, match=r"he.npz: this VideoPose3D custom 2D npz gives 15 joints"):
        load_keypoints(tmp_path / "he.npz")  # a Human3.6M model cannot take them
    metadata["layout_name"] = "mpii"
    np.savez(tmp_path / "odd.npz", positions_2d={"walk.mp4": {"custom": [xy]}}, metadata=metadata)
    with pytest.raises(DataError, match="unsupported keypoint layout 'mpii' .*coco, h36m, humaneva15"):
        load_keypoints(tmp_path / "odd.npz", dataset=HUMANEVA)
