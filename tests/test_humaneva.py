"""HumanEva-I: the files, the synthetic set, flip lists, the published evaluation, bad input and
a short train + evaluate."""
import json
import shutil

import numpy as np
import pytest
import torch

from starpose import save_checkpoint
from starpose.cli import main
from starpose.data.cameras import camera_to_world, image_coordinates
from starpose.datasets.registry import get_dataset
from starpose.data.flip import flip_pose
from starpose.datasets.humaneva.files import HUMANEVA_15, humaneva_cameras, humaneva_metadata, load_humaneva
from starpose.datasets.humaneva.synthetic import TRAIN_FRACTION
from starpose.data.safe_pickle import load_npz, write_npz
from starpose.evaluate.protocol import evaluate_model
from starpose.models import MixSTE
from tests.reference_eval import published_evaluation

TEST_SUBJECTS = ["Validate/S1", "Validate/S2", "Validate/S3"]


def test_synthetic_files_have_the_published_layout(tiny_humaneva_dir):
    poses_3d = load_npz(tiny_humaneva_dir / "data_3d_humaneva15.npz")["positions_3d"]
    contents = load_npz(tiny_humaneva_dir / "data_2d_humaneva15_noisy.npz")
    assert sorted(poses_3d) == sorted(f"{split}/S{i}" for split in ("Train", "Validate") for i in (1, 2, 3))
    assert contents["metadata"]["layout_name"] == "humaneva15" and contents["metadata"]["num_joints"] == 15
    assert contents["metadata"]["keypoints_symmetry"] == humaneva_metadata()["keypoints_symmetry_2d"]
    assert sorted(poses_3d["Validate/S2"]) == [f"{a} 1 chunk0" for a in sorted(humaneva_metadata()["actions"])]
    for subject, actions in poses_3d.items():
        for action, world in actions.items():
            views = contents["positions_2d"][subject][action]
            assert world.shape[1:] == (15, 3) and len(views) == 3
            assert all(v.shape == (len(world), 15, 2) for v in views)
    # Roughly 60/40 per sequence between Train (two chunks) and Validate.
    train = sum(len(poses_3d["Train/S1"][f"Jog 1 chunk{k}"]) for k in (0, 1))
    assert abs(train / (train + len(poses_3d["Validate/S1"]["Jog 1 chunk0"])) - TRAIN_FRACTION) < 0.05


def test_loader_round_trips_to_the_file_contents(tiny_humaneva_dir):
    poses_3d = load_npz(tiny_humaneva_dir / "data_3d_humaneva15.npz")["positions_3d"]
    poses_2d = load_npz(tiny_humaneva_dir / "data_2d_humaneva15_gt.npz")["positions_2d"]
    sequences = load_humaneva(tiny_humaneva_dir, "gt", ["Validate/S3"])
    assert len(sequences) == 5 * 3
    for seq in sequences:
        pixels = image_coordinates(seq.keypoints_2d, 640, 480)
        assert np.allclose(pixels, poses_2d[seq.subject][seq.action][seq.camera_index], atol=1e-3)
        cam = seq.positions_3d.copy()
        cam[:, 1:] += cam[:, :1]
        camera = humaneva_cameras(seq.subject)[seq.camera_index]
        world = camera_to_world(cam.astype(np.float64), camera.orientation, camera.translation)
        assert np.allclose(world, poses_3d[seq.subject][seq.action], atol=1e-4)


def test_2d_is_cut_to_the_3d_length_and_unlabeled_subjects_are_skipped(tmp_path, tiny_humaneva_dir):
    shutil.copy(tiny_humaneva_dir / "data_3d_humaneva15.npz", tmp_path)
    contents = load_npz(tiny_humaneva_dir / "data_2d_humaneva15_gt.npz")
    views = contents["positions_2d"]["Validate/S1"]["Box 1 chunk0"]
    contents["positions_2d"]["Validate/S1"]["Box 1 chunk0"] = [np.concatenate([v, v[:7]]) for v in views]
    contents["positions_2d"]["Unlabeled/S1"] = {"Box 1 chunk0": views}
    write_npz(tmp_path / "data_2d_humaneva15_gt.npz", **contents)
    with pytest.warns(UserWarning, match="Unlabeled/S1"):
        sequences = load_humaneva(tmp_path, "gt")
    assert "Unlabeled/S1" not in {s.subject for s in sequences}
    box = [s for s in sequences if s.subject == "Validate/S1" and s.action == "Box 1 chunk0"]
    assert all(len(s.keypoints_2d) == len(views[0]) == s.num_frames for s in box)


def test_flip_uses_the_15_joint_lists():
    assert HUMANEVA_15.joints_left == (2, 3, 4, 8, 9, 10) and HUMANEVA_15.joints_right == (5, 6, 7, 11, 12, 13)
    x = np.random.default_rng(0).normal(size=(4, 15, 3)).astype(np.float32)
    flipped = flip_pose(x, HUMANEVA_15)
    assert np.array_equal(flipped[:, 5, 1:], x[:, 2, 1:]) and np.array_equal(flipped[:, 13, 0], -x[:, 10, 0])
    assert np.array_equal(flipped[:, [0, 1, 14]][..., 1:], x[:, [0, 1, 14]][..., 1:])
    assert np.array_equal(flip_pose(flipped, HUMANEVA_15), x)
    with pytest.raises(ValueError):
        flip_pose(x)  # the 17-joint default does not fit


def test_dataset_description():
    dataset = get_dataset("humaneva")
    assert dataset.num_joints == 15 and dataset.fps == 60 and dataset.image_sizes["C2"] == (640, 480)
    assert dataset.loss_joint_weights == tuple(humaneva_metadata()["mixste_loss_joint_weights_15"])
    assert dataset.subjects_train == ("Train/S1", "Train/S2", "Train/S3")
    assert dataset.actions_evaluated == ("Walk", "Jog", "Box")
    assert dataset.action_filter("Walking 1 chunk0", ("Walk",)) and not dataset.action_filter("Box 1", ("Walk",))


def test_published_evaluation_equals_a_literal_transcription(tiny_humaneva_dir):
    torch.manual_seed(0)
    model = MixSTE(num_frames=27, num_joints=15, dim=32, depth=2, num_heads=4, attention="star").eval()
    dataset = get_dataset("humaneva")
    sequences = load_humaneva(tiny_humaneva_dir, "gt", TEST_SUBJECTS)
    kept = dataset.select(sequences, actions=dataset.actions_evaluated)
    assert {s.action_group for s in kept} == {"Walking", "Jog", "Box"}
    ours = evaluate_model(model, kept, skeleton=HUMANEVA_15)["all"]["Average"]
    reference = published_evaluation(model, sequences, HUMANEVA_15, action_filter=["Walk", "Jog", "Box"])
    got = np.array([ours[k] for k in ("mpjpe", "p_mpjpe", "n_mpjpe", "mpjve")])
    np.testing.assert_allclose(got, reference, atol=0.01, rtol=0)


def _checkpoint(tmp_path, joints=15):
    torch.manual_seed(0)
    return save_checkpoint(tmp_path / f"model{joints}.pt",
                           MixSTE(num_frames=27, num_joints=joints, dim=32, depth=1, num_heads=4))


def _with_entry(src, dst, change):
    """Copy the tiny set to ``dst`` with ``change(contents_3d, contents_2d)`` applied."""
    c3 = load_npz(src / "data_3d_humaneva15.npz")
    c2 = load_npz(src / "data_2d_humaneva15_gt.npz")
    change(c3, c2)
    write_npz(dst / "data_3d_humaneva15.npz", **c3)
    write_npz(dst / "data_2d_humaneva15_gt.npz", **c2)
    return dst


def _seventeen_joints(c3, c2):
    c2["metadata"] = dict(c2["metadata"], num_joints=17)


def _with_s4(c3, c2):
    c3["positions_3d"]["Validate/S4"] = c3["positions_3d"]["Validate/S1"]
    c2["positions_2d"]["Validate/S4"] = c2["positions_2d"]["Validate/S1"]


@pytest.mark.parametrize("case", ["17-joints", "s4", "prefix", "checkpoint-joints"])
def test_cli_bad_input(tmp_path, tiny_humaneva_dir, capsys, case):
    data = tiny_humaneva_dir
    if case == "17-joints":
        data = _with_entry(tiny_humaneva_dir, tmp_path, _seventeen_joints)
    if case == "s4":
        data = _with_entry(tiny_humaneva_dir, tmp_path, _with_s4)
    ckpt = _checkpoint(tmp_path, 17 if case == "checkpoint-joints" else 15)
    out = tmp_path / "out.json"
    args = ["evaluate", "--dataset", "humaneva", "--data-dir", str(data), "--checkpoint", str(ckpt),
            "--json", str(out)]
    args += {"s4": ["--subjects", "Validate/S4"], "prefix": ["--subjects", "Test/S1"]}.get(case, [])
    expected = {"17-joints": "data_2d_humaneva15_gt.npz: the 2D keypoints have 17 joints, HumanEva-I has 15",
                "s4": "subject Validate/S4: no camera calibration",
                "prefix": "subject 'Test/S1': expected <split>/<subject>",
                "checkpoint-joints": "model17.pt: the model takes 17 joints"}[case]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert expected in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert not out.exists()


def test_short_train_then_evaluate_by_subject(tmp_path, tiny_humaneva_dir, capsys):
    run = tmp_path / "run"
    assert main(["train", "--dataset", "humaneva", "--data-dir", str(tiny_humaneva_dir), "--out", str(run),
                 "--preset", "star-mixste-27-humaneva", "--epochs", "1", "--max-batches-per-epoch", "2",
                 "--batch-size", "8", "--val-stride", "4", "--device", "cpu"]) == 0
    config = json.loads((run / "config.json").read_text())
    assert config["dataset"] == "humaneva" and config["model"]["num_joints"] == 15
    assert config["subjects_test"] == TEST_SUBJECTS
    out = tmp_path / "eval.json"
    assert main(["evaluate", "--dataset", "humaneva", "--data-dir", str(tiny_humaneva_dir), "--checkpoint",
                 str(run / "best.pt"), "--by-subject", "--json", str(out), "--device", "cpu"]) == 0
    printed = capsys.readouterr().out
    tables = json.loads(out.read_text())["tables"]
    assert list(tables) == ["all"] + TEST_SUBJECTS
    assert all(set(t) == {"Walking", "Jog", "Box", "Average"} for t in tables.values())
    assert "| P-MPJPE (mm) | Box | Jog | Walking | Average |" in printed
    assert f"| S2 | {tables['Validate/S2']['Box']['p_mpjpe']:.1f} |" in printed
