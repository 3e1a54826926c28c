"""``starpose lift`` / ``starpose render``: every input format end to end.

One test trains a tiny MixSTE on synthetic Human3.6M data and checks that lifting each format
beats the mean pose by far; it is a single test so that parallel workers train only once. The
others use an untrained model of the same shape on a fake motion: they check files, messages
and failures, not accuracy.
"""
import contextlib
import csv
import json
import re

import numpy as np
import pytest
import torch

from starpose import save_checkpoint
from starpose.cli import main
from starpose.data.cameras import image_coordinates
from starpose.datasets.h36m.files import load_h36m
from starpose.datasets.h36m.synthetic import generate_dataset
from starpose.data.windows import TrainWindows
from starpose.formats import Keypoints2D, Note, NoteKind
from starpose.lift import lift_keypoints, read_result
from starpose.models.mixste import MixSTE
from starpose.viz.animation import read_video_info
from tests.keypoint_writers import (
    H,
    H36M,
    W,
    fake_motion,
    write_coco_results,
    write_mediapipe_csv,
    write_npy,
    write_openpose_dir,
    write_videopose3d,
)

TRAIN_STEPS = 400
TEST_SUBJECT, TEST_ACTION = "S9", "Walking"


def _tiny_mixste():
    torch.manual_seed(0)
    return MixSTE(num_frames=9, dim=32, depth=2, num_heads=4)


def _zero_root(poses):
    """Sequences keep the root's trajectory in joint 0 (the others are relative to it)."""
    poses = poses.copy()
    poses[:, 0] = 0
    return poses


def _mpjpe(a, b):
    return float(np.linalg.norm(a - b, axis=-1).mean())


@contextlib.contextmanager
def _one_thread():
    """Run torch on one thread: a model this small gains nothing from more, and next to a
    parallel test worker extra threads oversubscribe the cores (many times slower)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def _train(sequences, steps):
    """A tiny MixSTE fitted for ``steps`` Adam steps on the sequences' 9-frame windows.

    Returns the model and the training set's mean pose ``(17, 3)`` (the baseline to beat).
    """
    model = _tiny_mixste()
    windows = TrainWindows([s.keypoints_2d for s in sequences], [s.positions_3d for s in sequences],
                           frames=9, flip_augment=True, seed=0, zero_root=True)
    optimizer = torch.optim.Adam(model.parameters(), lr=5e-3)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=5e-3, total_steps=steps)
    model.train()
    batches = (batch for _ in iter(int, 1) for batch in windows.epoch_batches(32, as_torch=True))
    for _, (x, y) in zip(range(steps), batches):
        loss = torch.linalg.norm(model(x) - y, dim=-1).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        schedule.step()
    return model.eval(), windows.targets.reshape(-1, 17, 3).mean(axis=0)


def _lift(setup, inputs, out, *extra):
    args = ["lift", *map(str, inputs), "--checkpoint", setup["checkpoint"], "--out", str(out), *extra]
    return main(args)


def _size_args(setup):
    return ["--width", str(setup["size"][0]), "--height", str(setup["size"][1])]


_FORMATS = [
    ("Human3.6M-ordered keypoint array", lambda p, xy, size: write_npy(p / "walk.npy", xy), True),
    ("COCO-17 keypoints JSON", lambda p, xy, size: write_coco_results(p / "walk.json", xy, size=size), False),
    ("MediaPipe Pose 33 landmarks", lambda p, xy, size: write_mediapipe_csv(p / "walk.csv", xy, size=size), True),
    ("OpenPose BODY_25 folder", lambda p, xy, size: write_openpose_dir(p / "walk", xy), True),
    ("VideoPose3D custom 2D npz", lambda p, xy, size: write_videopose3d(p / "data_2d_custom_w.npz", {"walk.mp4": xy}, size=size), False),
]


def test_every_format_lifts_close_to_the_truth(tmp_path, capsys):
    data = tmp_path / "synthetic"
    generate_dataset(data, preset="tiny", seed=0)
    sequences = load_h36m(data, subjects=["S1", "S5", "S6", TEST_SUBJECT])
    with _one_thread():
        model, mean_pose = _train([s for s in sequences if s.subject != TEST_SUBJECT], TRAIN_STEPS)
    test = next(s for s in sequences if (s.subject, s.action, s.camera_index) == (TEST_SUBJECT, TEST_ACTION, 0))
    size = (test.camera.res_w, test.camera.res_h)
    setup = {"checkpoint": str(save_checkpoint(tmp_path / "tiny.pt", model)), "size": size}
    xy, truth = image_coordinates(test.keypoints_2d, *size), _zero_root(test.positions_3d)
    baseline = _mpjpe(np.broadcast_to(mean_pose, truth.shape), truth)
    for i, (kind, writer, needs_size) in enumerate(_FORMATS):
        folder = tmp_path / f"format{i}"
        folder.mkdir()
        out = folder / "out.npz"
        assert _lift(setup, [writer(folder, xy, size)], out, *(_size_args(setup) if needs_size else [])) == 0
        assert f"detected {kind} (walk" in capsys.readouterr().out
        pred = np.load(out)["positions_3d"]
        assert pred.shape == truth.shape and np.all(pred[:, 0] == 0)
        # Exact H36M input must give the best result; the other formats rebuild Hip, Spine and
        # Thorax from the detector's points, a slightly different skeleton, hence a looser bound.
        bound = 0.6 if kind.startswith("Human3.6M") else 0.7
        assert _mpjpe(pred, truth) < bound * baseline, (kind, _mpjpe(pred, truth), baseline)


@pytest.fixture(scope="module")
def lifter(tmp_path_factory):
    """An untrained tiny model's checkpoint and a fake motion's pixels (W x H image)."""
    model = _tiny_mixste().eval()
    checkpoint = save_checkpoint(tmp_path_factory.mktemp("model") / "untrained.pt", model)
    poses, xy = fake_motion(60, seed=3)
    return {"checkpoint": str(checkpoint), "model": model, "xy": xy, "size": (W, H),
            "truth": poses - poses[:, :1]}


def test_lift_writes_npz_with_names_fps_and_2d(lifter, tmp_path, capsys):
    path = write_npy(tmp_path / "walk.npy", lifter["xy"])
    out = tmp_path / "walk3d.npz"
    assert _lift(lifter, [path], out, *_size_args(lifter), "--fps", "50") == 0
    assert "walk.npy: detected Human3.6M-ordered keypoint array (walk: 60 frames; 1000x800 px)" in capsys.readouterr().out
    result = np.load(out, allow_pickle=False)
    assert result["positions_3d"].shape == (60, 17, 3) and np.all(result["positions_3d"][:, 0] == 0)
    assert list(result["joint_names"]) == list(H36M)
    assert float(result["fps"]) == 50 and str(result["source"]).endswith("walk.npy")
    np.testing.assert_allclose(result["keypoints_2d"], lifter["xy"], atol=1e-3)


def test_lift_keypoints_returns_root_relative_poses_with_and_without_flip(lifter):
    xy = lifter["xy"][:30].astype(np.float32)
    kp = Keypoints2D(xy=xy, confidence=np.ones(xy.shape[:2], np.float32), width=lifter["size"][0],
                     height=lifter["size"][1], fps=None, source_format="h36m", name="memory")
    flipped = lift_keypoints(lifter["model"], kp)
    plain = lift_keypoints(lifter["model"], kp, flip=False)
    assert flipped["positions_3d"].shape == (30, 17, 3) and np.all(flipped["positions_3d"][:, 0] == 0)
    assert flipped["joint_names"] == list(H36M) and flipped["image_size"] == lifter["size"]
    assert not np.allclose(flipped["positions_3d"], plain["positions_3d"])


def test_json_and_csv_results_hold_the_same_numbers(lifter, tmp_path):
    path = write_npy(tmp_path / "walk.npy", lifter["xy"][:40])
    for suffix in ("npz", "json", "csv"):
        assert _lift(lifter, [path], tmp_path / f"r.{suffix}", *_size_args(lifter)) == 0
    ref = np.load(tmp_path / "r.npz")["positions_3d"]
    data = json.loads((tmp_path / "r.json").read_text())
    assert data["joint_names"] == list(H36M) and data["fps"] is None
    np.testing.assert_allclose(np.array(data["positions_3d"]), ref, atol=1e-5)
    assert np.array(data["keypoints_2d"]).shape == (40, 17, 2)
    with (tmp_path / "r.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 40 * 17 and rows[17]["frame"] == "1" and rows[17]["joint"] == "Hip"
    assert rows[17]["time_s"] == ""  # no frame rate given
    assert float(rows[13 + 17 * 4]["z"]) == pytest.approx(ref[4, 13, 2], abs=1e-5)
    assert _lift(lifter, [path], tmp_path / "r50.csv", "--fps", "50", *_size_args(lifter)) == 0
    with (tmp_path / "r50.csv").open() as fh:
        assert float(list(csv.DictReader(fh))[17 * 10]["time_s"]) == pytest.approx(0.2)


def test_several_inputs_go_to_a_folder_named_after_them(lifter, tmp_path, capsys):
    xy = lifter["xy"]
    inputs = [write_npy(tmp_path / "a.npy", xy[:20]),
              write_videopose3d(tmp_path / "data_2d_custom_v.npz", {"one.mp4": xy[:30], "two.mp4": xy[:12]})]
    out = tmp_path / "results"
    assert _lift(lifter, inputs, out, "--out-format", "json", *_size_args(lifter)) == 0
    assert sorted(p.name for p in out.iterdir()) == ["a.json", "one.json", "two.json"]
    assert len(json.loads((out / "two.json").read_text())["positions_3d"]) == 12
    assert _lift(lifter, inputs, tmp_path / "single.npz", *_size_args(lifter)) == 2
    assert "give a folder as --out" in capsys.readouterr().err
    assert not (tmp_path / "single.npz").exists()


def test_missing_joints_are_filled_with_a_warning(lifter, tmp_path, capsys):
    conf = np.full((50, 17), 0.9)
    conf[10:15, 13] = 0.05
    path = write_npy(tmp_path / "gappy.npy", lifter["xy"][:50], conf)
    assert _lift(lifter, [path], tmp_path / "g.npz", *_size_args(lifter)) == 0
    assert "warning: gappy: filled 5 of 850 joint positions (0.6 %)" in capsys.readouterr().err
    assert np.load(tmp_path / "g.npz")["filled"][10:15, 13].all()


def test_lift_render_gif_has_the_frames_and_size(lifter, tmp_path):
    path = write_npy(tmp_path / "walk.npy", lifter["xy"][:12])
    gif = tmp_path / "anim" / "walk.gif"
    assert _lift(lifter, [path], tmp_path / "w.npz", *_size_args(lifter), "--no-flip",
                 "--render", str(gif)) == 0
    info = read_video_info(gif)
    # 2D input, lifted 3D and the world motion on its floor
    assert (info.num_frames, info.width, info.height) == (12, 900, 300)


def test_render_command_with_ground_truth_plot_and_mp4(lifter, tmp_path, capsys):
    path = write_npy(tmp_path / "walk.npy", lifter["xy"][:16])
    lifted = tmp_path / "walk3d.npz"
    assert _lift(lifter, [path], lifted, *_size_args(lifter), "--fps", "25") == 0
    truth = tmp_path / "gt.npz"
    np.savez(truth, positions_3d=lifter["truth"][:16])
    video, plot, errors = tmp_path / "walk.mp4", tmp_path / "traj.png", tmp_path / "errors.png"
    code = main(["render", str(lifted), "--out", str(video), "--ground-truth", str(truth),
                 "--plot", str(plot), "--error-plot", str(errors),
                 "--downsample", "2", "--limit", "12", "--size", "480x160"])
    assert code == 0, capsys.readouterr().err
    info = read_video_info(video)
    assert (info.num_frames, info.width, info.height) == (6, 480, 160)
    assert plot.stat().st_size > 1000 and errors.stat().st_size > 1000
    assert main(["render", str(lifted), "--error-plot", str(tmp_path / "e2.png")]) == 2
    assert "needs --ground-truth" in capsys.readouterr().err
    assert read_result(lifted)["image_size"] == lifter["size"]
    assert main(["render", str(lifted), "--out", str(video), "--ground-truth", str(path)]) == 2
    assert "(T, 17, 3)" in capsys.readouterr().err


@pytest.mark.parametrize(
    "name, content, extra, message",
    [
        ("bad.json", "{oops", [], "not valid JSON"),
        ("odd.json", json.dumps({"cats": [1, 2]}), [], "cannot tell the keypoint format"),
        ("k.json", json.dumps([{"image_id": 0, "keypoints": [1.0] * 54}]), [], "expected 17 COCO keypoints"),
        ("j.npy", np.zeros((5, 18, 2)), ["--width", "9", "--height", "9"], r"\(T, 17, 2\)"),
        ("z.npy", np.zeros((0, 17, 2)), ["--width", "9", "--height", "9"], "no frames"),
        ("m.npy", np.zeros((5, 17, 3)), ["--width", "9", "--height", "9"],
         r"every keypoint's confidence is below .* \(try --min-confidence 0\)"),
        ("s.npy", np.ones((5, 17, 2)), [], "image width and height"),
        ("t.txt", "hello", [], "cannot tell the keypoint format"),
        ("deep.json", "[" * 100_000 + "]" * 100_000, [], "nested too deeply"),
    ],
)
def test_bad_input_exits_2_with_a_message_and_writes_nothing(lifter, tmp_path, capsys, name, content, extra, message):
    src = tmp_path / "in"
    src.mkdir()
    good = write_coco_results(src / "good.json", lifter["xy"][:10], size=lifter["size"])
    bad = src / name
    np.save(bad, content) if isinstance(content, np.ndarray) else bad.write_text(content)
    out = tmp_path / "out"
    assert _lift(lifter, [good, bad], out, *extra) == 2
    err = capsys.readouterr().err
    assert err.strip().splitlines()[-1].startswith("starpose lift: error:") and name in err
    assert re.search(message, err), err
    assert not out.exists() and sorted(p.name for p in tmp_path.iterdir()) == ["in"]


def test_a_checkpoint_that_does_not_take_h36m_keypoints_is_refused(lifter, tmp_path, capsys):
    checkpoint = save_checkpoint(tmp_path / "xyz.pt", MixSTE(num_frames=27, dim=16, depth=1, num_heads=2, in_chans=3))
    path = write_npy(tmp_path / "walk.npy", lifter["xy"][:30])
    assert main(["lift", str(path), "--checkpoint", str(checkpoint), "--out", str(tmp_path / "r.npz"),
                 *_size_args(lifter)]) == 2
    err = capsys.readouterr().err
    assert "xyz.pt" in err and "3 channels" in err and "Traceback" not in err
    assert not (tmp_path / "r.npz").exists()


def test_failure_before_writing_leaves_nothing_behind(lifter, tmp_path, capsys):
    path = write_npy(tmp_path / "walk.npy", lifter["xy"][:10])
    out = tmp_path / "deep" / "r.npz"
    code = _lift(lifter, [path], out, *_size_args(lifter), "--render", str(tmp_path / "x.avi"))
    assert code == 2 and "--render must end in .mp4 or .gif" in capsys.readouterr().err
    assert _lift(lifter, [path], out, "--width", "9") == 2
    assert "give both --width and --height" in capsys.readouterr().err
    assert _lift(lifter, [path], out, *_size_args(lifter), "--checkpoint", str(tmp_path / "nope.pt")) == 2
    assert "nope.pt" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["walk.npy"]


def test_the_note_kind_not_its_wording_makes_a_warning(lifter, tmp_path, capsys, monkeypatch):
    import starpose.lift.pipeline as command

    xy = lifter["xy"][:12].astype(np.float32)
    notes = [Note(NoteKind.SEVERAL_PEOPLE, "memory: filled with people, kept one"),
             Note(NoteKind.FILLED_JOINTS, "memory: 3 joint positions interpolated")]
    kp = Keypoints2D(xy=xy, confidence=np.ones(xy.shape[:2], np.float32), width=W, height=H,
                     fps=None, source_format="h36m", name="memory", path="memory.npy", notes=notes)
    monkeypatch.setattr(command, "load_keypoints", lambda *args, **kwargs: [kp])
    assert _lift(lifter, ["memory.npy"], tmp_path / "m.npz") == 0
    err = capsys.readouterr().err.splitlines()
    assert "starpose: memory: filled with people, kept one" in err
    assert "starpose: warning: memory: 3 joint positions interpolated" in err


def test_lift_to_bvh_equals_exporting_the_npz_result(lifter, tmp_path):
    path = write_npy(tmp_path / "walk.npy", lifter["xy"])
    # one thread for both lifts: `--threads auto` could pick another count for the second one on
    # a busy machine, and another summation order changes the last digits
    common = [*_size_args(lifter), "--fps", "50", "--threads", "1"]
    assert _lift(lifter, [path], tmp_path / "walk3d.npz", *common) == 0
    assert main(["mocap", "export", str(tmp_path / "walk3d.npz"), "--out", str(tmp_path / "a.bvh")]) == 0
    assert _lift(lifter, [path], tmp_path / "b.bvh", *common) == 0
    text = (tmp_path / "b.bvh").read_text()
    assert "Frames: 60" in text and "Frame Time: 0.02" in text
    assert text == (tmp_path / "a.bvh").read_text()


def test_results_keep_the_video_frame_numbers_and_times(lifter, tmp_path):
    """A COCO clip starting at image_id 5, frames 9 and 10 missing: the result starts at frame 5
    (time 5 / fps) and has frames 9 and 10, filled."""
    path = write_coco_results(tmp_path / "clip.json", lifter["xy"][:20], skip_frames={4, 5})
    obj = json.loads(path.read_text())
    for detection in obj["annotations"]:
        detection["image_id"] += 5
    path.write_text(json.dumps(obj))
    for suffix in ("npz", "json", "csv"):
        assert _lift(lifter, [path], tmp_path / f"r.{suffix}", "--fps", "25", "--no-flip") == 0
    npz = np.load(tmp_path / "r.npz")
    assert npz["frame_index"].tolist() == list(range(5, 25)) and npz["positions_3d"].shape[0] == 20
    np.testing.assert_allclose(npz["time_s"], np.arange(5, 25) / 25)
    assert npz["filled"][[4, 5]].all() and not npz["filled"][[3, 6]].any()
    data = json.loads((tmp_path / "r.json").read_text())
    assert data["frame_index"][0] == 5 and data["time_s"][0] == pytest.approx(0.2)
    with (tmp_path / "r.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert (rows[0]["frame"], rows[0]["time_s"]) == ("5", "0.200000")
    assert (rows[17 * 19]["frame"], rows[17 * 19]["time_s"]) == ("24", "0.960000")
    assert _lift(lifter, [path], tmp_path / "nofps.npz", "--no-flip") == 0
    assert np.isnan(np.load(tmp_path / "nofps.npz")["time_s"]).all()
