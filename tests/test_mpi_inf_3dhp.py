"""MPI-INF-3DHP files: layout of the synthetic set, reading round trips, the joint map, bad input."""
import numpy as np
import pytest

from starpose.datasets.registry import dataset_names, get_dataset
from starpose.datasets.mpi_inf_3dhp.joint_map import (
    H36M_FOR_3DHP, NO_COUNTERPART, compared_joints, h36m_from_3dhp, mpi_from_h36m)
from starpose.datasets.mpi_inf_3dhp.layout import (
    ACTIVITIES, CAMERAS_TRAIN, FILE_TEST, FILE_TRAIN, MPI_3DHP_17, ROOT, TEST_IMAGE_SIZES)
from starpose.datasets.mpi_inf_3dhp.files import load_3dhp, load_test, load_train
from starpose.data.safe_pickle import load_npz, save_npz
from starpose.data.skeleton import H36M_17
from starpose.datasets.mpi_inf_3dhp.synthetic import generate_3dhp, to_3dhp_17
from starpose.errors import DataError


def test_dataset_is_registered_with_the_3dhp_facts():
    assert "3dhp" in dataset_names()
    ds = get_dataset("3dhp")
    assert ds.num_joints == 17 and ds.root == 14 == ROOT
    assert ds.skeleton.joints_left == (5, 6, 7, 11, 12, 13)
    assert ds.subjects_train == tuple(f"S{k}" for k in range(1, 9))
    assert ds.subjects_test == tuple(f"TS{k}" for k in range(1, 7))
    assert ds.image_sizes["TS5"] == (1920, 1080) and ds.image_sizes["TS1"] == (2048, 2048)
    assert set(ds.loss_joint_weights) == {1.0}
    assert callable(ds.synthesize) and callable(ds.evaluate_report) and callable(ds.validation_metric)


def test_synthetic_files_have_the_published_layout(tiny_3dhp_dir):
    train = load_npz(tiny_3dhp_dir / FILE_TRAIN)["data"]
    assert sorted(train) == sorted(f"S{s} Seq{q}" for s in range(1, 9) for q in (1, 2))
    cameras, fps = train["S3 Seq1"]
    assert fps == 50 and train["S1 Seq1"][1] == 25
    assert sorted(cameras, key=int) == list(CAMERAS_TRAIN)
    assert cameras["0"]["data_2d"].shape[1:] == (17, 2)
    assert cameras["0"]["data_3d"].shape == cameras["0"]["data_2d"].shape[:2] + (3,)
    # millimetres, camera frame: the body is metres in front of the camera
    assert 2000 < np.median(cameras["0"]["data_3d"][..., 2]) < 7000
    test = load_npz(tiny_3dhp_dir / FILE_TEST)["data"]
    assert sorted(test) == [f"TS{k}" for k in range(1, 7)]
    for name, entry in test.items():
        width, height = TEST_IMAGE_SIZES[name]
        pixels = entry["data_2d"]
        assert (pixels[..., 0] > 0).all() and (pixels[..., 0] < width).all()
        assert (pixels[..., 1] > 0).all() and (pixels[..., 1] < height).all()
        invalid = 1 - entry["valid"].mean()
        assert 0.10 <= invalid <= 0.30  # 10-20 % drawn, plus the joins between activities
        assert np.any(np.diff(entry["valid"].astype(int)) != 0)  # runs, not all one value
        assert set(np.unique(entry["activity"])) <= set(range(1, len(ACTIVITIES) + 1))


def test_reading_round_trip(tiny_3dhp_dir):
    raw = load_npz(tiny_3dhp_dir / FILE_TEST)["data"]["TS5"]
    (seq,) = load_test(tiny_3dhp_dir / FILE_TEST, ["TS5"])
    assert seq.image_size == (1920, 1080) and seq.fps == 50.0 and seq.scene == "outdoor"
    np.testing.assert_allclose(seq.positions_3d[:, ROOT], 0.0)
    expected = (raw["data_3d"] - raw["data_3d"][:, ROOT:ROOT + 1]) / 1000
    np.testing.assert_allclose(seq.positions_3d, expected, atol=1e-6)
    np.testing.assert_allclose(seq.keypoints_2d, raw["data_2d"] / 1920 * 2 - [1, 1080 / 1920],
                               atol=1e-6)
    np.testing.assert_array_equal(seq.valid, raw["valid"].astype(bool))
    train = load_train(tiny_3dhp_dir / FILE_TRAIN, ["S2"])
    assert [(s.subject, s.action) for s in train[:9:8]] == [("S2", "Seq1"), ("S2", "Seq2")]
    assert [s.camera_index for s in train[:8]] == [int(c) for c in CAMERAS_TRAIN]
    both = load_3dhp(tiny_3dhp_dir, "gt", ["S1", "TS2"])
    assert [s.subject for s in both] == ["S1"] * 16 + ["TS2"]


def test_generation_is_deterministic(tmp_path, tiny_3dhp_dir):
    generate_3dhp(tmp_path, preset="tiny", seed=0)
    a = load_npz(tmp_path / FILE_TEST)["data"]["TS3"]
    b = load_npz(tiny_3dhp_dir / FILE_TEST)["data"]["TS3"]
    np.testing.assert_array_equal(a["data_2d"], b["data_2d"])


def test_synthetic_bodies_keep_their_bone_lengths(tiny_3dhp_dir):
    entry = load_npz(tiny_3dhp_dir / FILE_TEST)["data"]["TS1"]
    pose, valid = entry["data_3d"], entry["valid"].astype(bool)
    # Inside one activity segment (valid frames away from the cross-fades) bones are rigid.
    for child in (3, 4, 9, 10):  # elbow, wrist, knee, ankle
        parent = MPI_3DHP_17.parents[child]
        bone = np.linalg.norm(pose[valid, child] - pose[valid, parent], axis=-1)
        assert np.median(np.abs(bone - np.median(bone))) < 1.0  # mm


def test_joint_map_is_a_documented_permutation():
    assert sorted(H36M_FOR_3DHP) == list(range(17))
    for mpi, h36m in ((0, "Head"), (1, "Thorax"), (4, "RWrist"), (13, "LFoot"), (14, "Hip")):
        assert H36M_17.names[H36M_FOR_3DHP[mpi]] == h36m
    x = np.arange(17 * 2, dtype=float).reshape(1, 17, 2)
    np.testing.assert_array_equal(mpi_from_h36m(h36m_from_3dhp(x)), x)
    # left/right lists agree through the map
    left = sorted(H36M_FOR_3DHP[j] for j in MPI_3DHP_17.joints_left)
    assert left == sorted(H36M_17.joints_left)
    assert NO_COUNTERPART == (16,) and 16 not in compared_joints("h36m")
    assert compared_joints("3dhp") == tuple(range(17))


def test_to_3dhp_17_follows_the_h36m_joints():
    world = np.random.default_rng(0).normal(size=(2, 32, 3))
    out = to_3dhp_17(world)
    np.testing.assert_array_equal(out[:, 14], world[:, 0])
    np.testing.assert_array_equal(out[:, 2], world[:, 25])  # right shoulder
    np.testing.assert_allclose(out[:, 16], (world[:, 14] + world[:, 15]) / 2)


def _test_entry(frames=30, width=2048, height=2048):
    rng = np.random.default_rng(0)
    return {"data_2d": rng.uniform(0.3, 0.7, (frames, 17, 2)) * [width, height],
            "data_3d": rng.normal(0, 300, (frames, 17, 3)) + [0, 0, 4000],
            "valid": np.ones(frames, np.uint8)}


@pytest.mark.parametrize("change, message", [
    (lambda e: e.pop("valid"), "sequence TS1: missing 'valid'"),
    (lambda e: e.update(data_2d=e["data_2d"][:-3]), "sequence TS1: 2D keypoints have 27 frames"),
    (lambda e: e.update(data_2d=e["data_2d"] * 4), "far outside the 2048x2048 image"),
    (lambda e: e.update(data_3d=e["data_3d"][:, :16]), "'data_3d' must be a non-empty (T, 17, 3)"),
    (lambda e: e.update(valid=np.full(30, 2)), "'valid' must be a (T,) array of 0/1"),
])
def test_bad_test_files_name_file_sequence_and_problem(tmp_path, change, message):
    entry = _test_entry()
    change(entry)
    path = save_npz(tmp_path / FILE_TEST, data={"TS1": entry})
    with pytest.raises(DataError) as err:
        load_test(path)
    text = str(err.value)
    assert str(path) in text and message in text and "\n" not in text


def test_bad_training_file(tmp_path):
    entry = _test_entry()
    cameras = {"0": {"data_2d": entry["data_2d"][:, :15], "data_3d": entry["data_3d"]}}
    path = save_npz(tmp_path / FILE_TRAIN, data={"S1 Seq1": [cameras, 25]})
    with pytest.raises(DataError, match=r"sequence 'S1 Seq1', camera 0: 'data_2d' must be"):
        load_train(path)
    with pytest.raises(DataError, match="no sequence for subject"):
        load_train(path, ["S4"])


def test_outdoor_image_size_is_checked(tmp_path):
    # 2048x2048 pixels in TS5 (1920x1080): most keypoints fall far below the image.
    entry = _test_entry(width=2048, height=2048)
    entry["data_2d"][..., 1] += 900
    path = save_npz(tmp_path / FILE_TEST, data={"TS5": entry})
    with pytest.raises(DataError, match="TS5: .* far outside the 1920x1080 image"):
        load_test(path)
