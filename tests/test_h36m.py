"""The Human3.6M loader: processing of the published pipeline and clear errors for bad files."""
import numpy as np
import pytest

from starpose.datasets.h36m.layout import h36m_cameras

from starpose.data.cameras import normalize_screen_coordinates, world_to_camera
from starpose.datasets.h36m.files import action_group, available_keypoints, load_h36m, select, subjects_of
from starpose.data.safe_pickle import load_npz, save_npz
from starpose.data.skeleton import JOINTS_KEPT_FOR_17
from starpose.errors import DataError

META = {"layout_name": "h36m", "num_joints": 17,
        "keypoints_symmetry": [[4, 5, 6, 11, 12, 13], [1, 2, 3, 14, 15, 16]]}


def _mini(T=20):
    """A small valid dataset: S9 and S11 with two actions each; 2D = projections in pixels."""
    rng = np.random.default_rng(0)
    p3d, p2d = {}, {}
    for subject in ("S9", "S11"):
        for action in ("Walking", "Walking 1"):
            world = (rng.normal(0, 0.3, (T, 32, 3)) + [0, 0, 1]).astype(np.float32)
            p3d.setdefault(subject, {})[action] = world
            p2d.setdefault(subject, {})[action] = [
                cam.project(world[:, JOINTS_KEPT_FOR_17]).astype(np.float32)
                for cam in h36m_cameras(subject)]
    return p3d, p2d


def _write(directory, p3d, p2d, name="gt", meta=META):
    save_npz(directory / "data_3d_h36m.npz", positions_3d=p3d)
    save_npz(directory / f"data_2d_h36m_{name}.npz", positions_2d=p2d, metadata=meta)
    return directory


def test_processing_matches_published_pipeline(tmp_path):
    p3d, p2d = _mini()
    p3d["S2"] = {"Walking": p3d["S9"]["Walking"]}  # uncalibrated extra subject: skipped
    p2d["S7"] = p2d["S9"]  # extra 2D subject: ignored
    sequences = load_h36m(_write(tmp_path, p3d, p2d))
    assert len(sequences) == 2 * 2 * 4
    assert subjects_of(sequences) == ["S11", "S9"]
    seq = select(sequences, subjects=["S9"], actions=["Walking 1"])[2]
    assert (seq.subject, seq.action, seq.camera_index) == ("S9", "Walking 1", 2)
    cam = h36m_cameras("S9")[2]
    expected = world_to_camera(p3d["S9"]["Walking 1"], cam.orientation, cam.translation)
    expected[:, 1:] -= expected[:, :1]
    np.testing.assert_allclose(seq.positions_3d, expected[:, JOINTS_KEPT_FOR_17], atol=1e-5)
    np.testing.assert_allclose(
        seq.keypoints_2d,
        normalize_screen_coordinates(p2d["S9"]["Walking 1"][2], cam.res_w, cam.res_h), atol=1e-6)
    assert seq.positions_3d.dtype == np.float32 and seq.keypoints_2d.dtype == np.float32
    assert seq.positions_3d.shape == (20, 17, 3) and seq.keypoints_2d.shape == (20, 17, 2)
    assert seq.positions_3d[:, 0, 2].min() > 1  # the root keeps its depth
    assert seq.camera.id == cam.id and seq.action_group == "Walking"


def test_longer_2d_is_cut_to_3d_length(tmp_path):
    p3d, p2d = _mini()
    p2d["S9"]["Walking"] = [np.concatenate([v, v[:3]]) for v in p2d["S9"]["Walking"]]
    sequences = load_h36m(_write(tmp_path, p3d, p2d), subjects=["S9"])
    assert {s.keypoints_2d.shape[0] for s in sequences} == {20}


def test_loads_synthetic_dataset(tiny_dataset_dir):
    sequences = load_h36m(tiny_dataset_dir, "noisy", subjects=["S9", "S11"])
    assert len(sequences) == 2 * 30 * 4
    assert {s.action_group for s in sequences} == {
        "Directions", "Discussion", "Eating", "Greeting", "Phoning", "Photo", "Posing",
        "Purchases", "Sitting", "SittingDown", "Smoking", "Waiting", "WalkDog", "Walking",
        "WalkTogether"}
    assert available_keypoints(tiny_dataset_dir) == ["gt", "noisy"]
    # Ground-truth 2D is the projection of the processed 3D: re-project and compare.
    for seq in load_h36m(tiny_dataset_dir, "gt", subjects=["S1"])[::37]:
        cam = seq.camera
        absolute = seq.positions_3d.copy()
        absolute[:, 1:] += absolute[:, :1]
        pixels = cam.project(cam.camera_to_world(absolute))
        np.testing.assert_allclose(seq.keypoints_2d, cam.normalize(pixels), atol=1e-4)
        assert np.abs(seq.keypoints_2d).max() < 1.2


def test_action_group():
    assert action_group("Walking 1") == "Walking"
    assert action_group("SittingDown") == "SittingDown"
    assert action_group("WalkDog 1") == "WalkDog"


def _expect_error(tmp_path, p3d, p2d, *fragments, keypoints="gt", subjects=None, meta=META):
    _write(tmp_path, p3d, p2d, meta=meta)
    with pytest.raises(DataError) as err:
        load_h36m(tmp_path, keypoints, subjects=subjects)
    for fragment in fragments:
        assert fragment in str(err.value), str(err.value)


def test_missing_files(tmp_path):
    with pytest.raises(DataError, match="data_3d_h36m.npz"):
        load_h36m(tmp_path)
    p3d, p2d = _mini()
    _expect_error(tmp_path, p3d, p2d, "data_2d_h36m_cpn.npz", "available: gt", keypoints="cpn")


def test_missing_keys(tmp_path):
    p3d, p2d = _mini()
    _write(tmp_path, p3d, p2d)
    save_npz(tmp_path / "data_3d_h36m.npz", poses=p3d)
    with pytest.raises(DataError, match="data_3d_h36m.npz.*positions_3d"):
        load_h36m(tmp_path)
    _write(tmp_path, p3d, p2d)
    save_npz(tmp_path / "data_2d_h36m_gt.npz", metadata=META)
    with pytest.raises(DataError, match="data_2d_h36m_gt.npz.*positions_2d"):
        load_h36m(tmp_path)


def test_subject_or_action_missing_from_2d(tmp_path):
    p3d, p2d = _mini()
    del p2d["S11"]
    _expect_error(tmp_path, p3d, p2d, "data_2d_h36m_gt.npz", "S11")
    p3d, p2d = _mini()
    del p2d["S9"]["Walking 1"]
    _expect_error(tmp_path, p3d, p2d, "data_2d_h36m_gt.npz", "S9", "Walking 1", "missing")


def test_wrong_joint_counts_and_cameras(tmp_path):
    p3d, p2d = _mini()
    p3d["S9"]["Walking"] = p3d["S9"]["Walking"][:, :17]
    _expect_error(tmp_path, p3d, p2d, "data_3d_h36m.npz", "S9", "'Walking'", "(20, 17, 3)")
    p3d, p2d = _mini()
    p2d["S11"]["Walking 1"][1] = p2d["S11"]["Walking 1"][1][:, :16]
    _expect_error(tmp_path, p3d, p2d, "data_2d_h36m_gt.npz", "S11", "Walking 1", "camera 1")
    p3d, p2d = _mini()
    p2d["S9"]["Walking"] = p2d["S9"]["Walking"][:3]
    _expect_error(tmp_path, p3d, p2d, "S9", "Walking", "4 cameras", "got 3")
    p3d, p2d = _mini()
    _expect_error(tmp_path, p3d, p2d, "32 joints", meta=dict(META, num_joints=32))


def test_non_finite_values(tmp_path):
    p3d, p2d = _mini()
    p3d["S9"]["Walking"][7, 3, 1] = np.nan
    _expect_error(tmp_path, p3d, p2d, "data_3d_h36m.npz", "S9", "Walking", "NaN", "frame 7")
    p3d, p2d = _mini()
    p2d["S11"]["Walking"][0][4, 2, 0] = np.inf
    _expect_error(tmp_path, p3d, p2d, "data_2d_h36m_gt.npz", "S11", "Walking", "infinite")


def test_2d_shorter_than_3d(tmp_path):
    p3d, p2d = _mini()
    p2d["S9"]["Walking 1"] = [v[:15] for v in p2d["S9"]["Walking 1"]]
    _expect_error(tmp_path, p3d, p2d, "data_2d_h36m_gt.npz", "S9", "Walking 1", "15 frames",
                  "20 frames")


def test_no_sequence_for_requested_subjects(tmp_path):
    p3d, p2d = _mini()
    _expect_error(tmp_path, p3d, p2d, "data_3d_h36m.npz", "S1", subjects=["S1"])
    p3d, p2d = _mini()
    p3d["S9"], p3d["S11"] = {}, {}
    _expect_error(tmp_path, p3d, p2d, "no sequence")


def test_files_round_trip_through_safe_loader(tmp_path):
    p3d, p2d = _mini()
    _write(tmp_path, p3d, p2d)
    meta = load_npz(tmp_path / "data_2d_h36m_gt.npz")["metadata"]
    assert meta == META
