"""``starpose lift`` on videos, end to end with the real detector (BlazePose from the MediaPipe
wheel) and the bundled model, on short clips the tests make; online lifting frame by frame;
bad inputs."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from starpose.cli import main
from tests.video_clips import astronaut_frame, make_clip

FRAMES = 12


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    folder = tmp_path_factory.mktemp("clips")
    return {"one": make_clip(folder / "one.mp4", FRAMES),
            "two": make_clip(folder / "two.mkv", FRAMES, people=2, size=(480, 240)),
            "folder": folder}


def test_a_video_is_lifted_with_its_frame_numbers_fps_and_size(clips, tmp_path, capsys):
    out, kp_json, render = tmp_path / "one3d.npz", tmp_path / "one2d.json", tmp_path / "one.mp4"
    # --min-confidence 0: every detection as it is (her hands are never surely seen; a keypoint
    # file refuses joints never seen, a video keeps the detector's guess: see below)
    assert main(["lift", str(clips["one"]), "--out", str(out), "--save-2d", str(kp_json),
                 "--render", str(render), "--min-confidence", "0"]) == 0
    printed = capsys.readouterr().out
    assert "1 track(s) lifted" in printed and f"track 1: frames 0-{FRAMES - 1}" in printed
    assert "frames/s: decode" in printed and "detector" in printed and "render" in printed
    with np.load(out) as result:
        assert result["positions_3d"].shape == (FRAMES, 17, 3)
        assert list(result["frame_index"]) == list(range(FRAMES))
        assert float(result["fps"]) == 25.0
        np.testing.assert_allclose(result["time_s"], np.arange(FRAMES) / 25.0)
        assert tuple(result["image_size"]) == (320.0, 240.0) and int(result["track"]) == 1
        assert np.all(result["positions_3d"][:, 0] == 0)  # root-relative
        nose_x = result["keypoints_2d"][:, 9, 0]  # H36M nose, from the detector
        assert np.all(np.diff(nose_x) > 0)  # she drifts right in the clip
        lifted = result["positions_3d"]
        # world motion, as for keypoint files: absolute camera-space joints around the root,
        # the root in front of the camera, and gravity-aligned joints
        assert result["joints_cam"].shape == result["joints_world"].shape == (FRAMES, 17, 3)
        around_root = result["joints_cam"] - result["root_cam"][:, None]  # the lifted pose, scaled
        scale = np.median(np.linalg.norm(around_root[:, 1:], axis=-1) / np.linalg.norm(lifted[:, 1:], axis=-1))
        np.testing.assert_allclose(around_root, scale * lifted, atol=1e-3)
        assert np.all(result["root_cam"][:, 2] > 0)
        assert result["intrinsics"].shape == (4,)
    saved = json.loads(kp_json.read_text())
    assert saved["width"] == 320 and saved["fps"] == 25.0
    assert sorted({a["image_id"] for a in saved["annotations"]}) == list(range(FRAMES))
    assert all(a["track_id"] == 1 and len(a["keypoints"]) == 51 for a in saved["annotations"])
    # the saved detections lift again without detecting, to the same poses
    again = tmp_path / "again.npz"
    assert main(["lift", str(kp_json), "--out", str(again), "--min-confidence", "0"]) == 0
    with np.load(again) as result:
        np.testing.assert_allclose(result["positions_3d"], lifted, atol=2e-3)
    from starpose.video.reader import open_frames

    with open_frames(render) as source:
        numbers = [n for n, _ in source]
        assert numbers == list(range(FRAMES)) and source.info.fps == 25.0


def test_two_people_side_by_side_become_two_stable_tracks(clips, tmp_path, capsys):
    out = tmp_path / "two3d.json"
    assert main(["lift", str(clips["two"]), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "2 track(s) lifted" in printed
    sides = []
    for k in (1, 2):
        result = json.loads((tmp_path / f"two3d_track{k}.json").read_text())
        assert result["track"] == k and result["frame_index"] == list(range(FRAMES))
        assert np.asarray(result["positions_3d"]).shape == (FRAMES, 17, 3)
        nose_x = np.asarray(result["keypoints_2d"])[:, 9, 0]
        assert nose_x.max() < 240 or nose_x.min() > 240, "a track jumped between the people"
        sides.append(nose_x.mean() < 240)
    assert sorted(sides) == [False, True]
    # one person picked; a person that is not there is refused before anything is written
    assert main(["lift", str(clips["two"]), "--person", "2", "--out", str(tmp_path / "p2.npz")]) == 0
    assert (tmp_path / "p2.npz").is_file()
    capsys.readouterr()
    assert main(["lift", str(clips["two"]), "--person", "3", "--out", str(tmp_path / "p3.npz")]) == 2
    err = _error_line(capsys)
    assert "person 3" in err and "2 track(s)" in err
    assert not list(tmp_path.glob("p3*"))


def test_online_from_the_command_line(clips, tmp_path, capsys):
    offline, online = tmp_path / "off.npz", tmp_path / "on.npz"
    assert main(["lift", str(clips["one"]), "--out", str(offline)]) == 0
    printed = capsys.readouterr().out
    assert "never seen surely" in printed  # her hands: the detector's guess is kept, with a note
    assert main(["lift", str(clips["one"]), "--online", "--out", str(online)]) == 0
    with np.load(offline) as off, np.load(online) as on:
        assert on["positions_3d"].shape == off["positions_3d"].shape == (FRAMES, 17, 3)
        assert list(on["frame_index"]) == list(range(FRAMES))
        gap = np.linalg.norm(on["positions_3d"] - off["positions_3d"], axis=-1).mean()
        assert 0 < gap < 0.15  # the same people, lifted another way (metres)


def test_frame_numbers_come_from_the_timestamps(tmp_path):
    """A clip whose frame 5 was dropped: numbered 0-4, 6-11 by the container, lifted over
    0-11 with frame 5 filled."""
    from fractions import Fraction

    import av

    from starpose.video.reader import open_frames

    container = av.open(str(tmp_path / "gap.mp4"), "w")
    stream = container.add_stream("libx264", rate=25)
    stream.width, stream.height, stream.pix_fmt = 320, 240, "yuv420p"
    for t in [t for t in range(FRAMES) if t != 5]:
        frame = av.VideoFrame.from_ndarray(astronaut_frame(t), format="rgb24")
        frame.pts, frame.time_base = t, Fraction(1, 25)
        for packet in stream.encode(frame):
            container.mux(packet)
    for packet in stream.encode():
        container.mux(packet)
    container.close()
    with open_frames(tmp_path / "gap.mp4") as source:
        assert [n for n, _ in source] == [t for t in range(FRAMES) if t != 5]
        assert source.info.fps == 25.0
    assert main(["lift", str(tmp_path / "gap.mp4"), "--out", str(tmp_path / "gap.npz")]) == 0
    with np.load(tmp_path / "gap.npz") as result:
        assert list(result["frame_index"]) == list(range(FRAMES))
        assert result["filled"][5].all() and not result["filled"][4].all()


def test_an_image_folder_is_a_video_without_a_frame_rate(tmp_path, capsys):
    from PIL import Image

    folder = tmp_path / "frames"
    folder.mkdir()
    for t in range(8):
        Image.fromarray(astronaut_frame(t)).save(folder / f"img_{10 + t:04d}.png")
    assert main(["lift", str(folder), "--out", str(tmp_path / "f.npz")]) == 0
    with np.load(tmp_path / "f.npz") as result:
        assert list(result["frame_index"]) == list(range(10, 18))
        assert np.isnan(result["fps"])


def test_online_lifting_is_causal_and_fed_frame_by_frame(tmp_path):
    """Frames arrive one at a time (a FrameSource over a generator, as from a camera); the poses
    of the first frames do not change when the later frames do."""
    from starpose.datasets.registry import get_dataset
    from starpose.inference.predictors import TorchPredictor
    from starpose.lift.video import VideoOptions, lift_video
    from starpose.models.checkpoints import model_from_checkpoint, read_checkpoint
    from starpose.video.reader import FrameSource, VideoInfo

    dataset = get_dataset("h36m")
    model = model_from_checkpoint(read_checkpoint("bundled"), "bundled")
    predictor = TorchPredictor(model, flip=False, skeleton=dataset.skeleton)
    seen = []

    def camera(future_shift):
        for t in range(10):
            seen.append(t)
            frame = astronaut_frame(t if t < 6 else t + future_shift)
            yield t, frame

    results = []
    for shift in (0, 12):
        info = VideoInfo("camera", 320, 240, 25.0, None, "live")
        lifted = lift_video(FrameSource(info, camera(shift)), predictor, dataset,
                            VideoOptions(online=True), progress=False)
        (track,) = lifted.results
        assert list(track.kp.frame_numbers) == list(range(10))
        results.append(track.poses)
    np.testing.assert_array_equal(results[0][:6], results[1][:6])  # the past never changes
    assert np.abs(results[0][6:] - results[1][6:]).max() > 1e-4  # the present does
    assert seen == list(range(10)) * 2


def test_online_lifter_answers_each_frame_at_once():
    from starpose.video.online import OnlineLifter

    class Window:  # a predictor that echoes its input's x as z: shows which frame it answers
        frames, num_joints = 5, 17

        def __call__(self, windows):
            return np.concatenate([windows, windows[..., :1]], axis=-1)

    lifter = OnlineLifter(Window(), 100, 100)
    for t in range(8):
        xy = np.full((17, 2), 10.0 * t) + np.arange(17)[:, None]
        pose, _ = lifter.push(xy, np.ones(17))
        # the answer is about frame t itself (joint 1 - joint 0 in normalised x)
        np.testing.assert_allclose(pose[1, 0], 1 / 50, rtol=1e-5)
        np.testing.assert_allclose(pose[0], 0)


def _error_line(capsys) -> str:
    """The one error line of a failed run (the rest of stderr: progress, the model used)."""
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if "error" in line.lower()]
    assert len(errors) == 1 and "Traceback" not in err, err
    assert errors[0].startswith("starpose lift: error: "), err
    return errors[0]


def _bad(args, capsys, tmp_path, expected):
    assert main(["lift", *args, "--out", str(tmp_path / "out" / "r.npz")]) == 2
    err = _error_line(capsys)
    assert expected in err, err
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_bad_videos_are_one_line_each_and_nothing_is_written(clips, tmp_path, capsys):
    text = tmp_path / "notes.mp4"
    text.write_text("this is not a video")
    _bad([str(text)], capsys, tmp_path, "not a readable video")
    empty = tmp_path / "empty.mp4"
    empty.touch()
    _bad([str(empty)], capsys, tmp_path, "empty file (0 bytes)")
    data = clips["one"].read_bytes()
    (tmp_path / "cut.mp4").write_bytes(data[: len(data) // 2])
    _bad([str(tmp_path / "cut.mp4")], capsys, tmp_path, "truncated")
    avi = tmp_path / "c.avi"
    make_clip(avi, 4)
    (tmp_path / "odd.avi").write_bytes(avi.read_bytes().replace(b"FMP4", b"QQQQ"))
    _bad([str(tmp_path / "odd.avi")], capsys, tmp_path, "unsupported video codec")
    from starpose.video.writer import VideoWriter

    writer = VideoWriter(tmp_path / "nobody.mp4", 25)
    for _ in range(6):
        writer.write(np.full((120, 160, 3), 90, np.uint8))
    writer.close()
    _bad([str(tmp_path / "nobody.mp4")], capsys, tmp_path, "no person found")
    import av

    for name in ("zero.mp4", "zero.mkv"):  # containers without a single frame
        container = av.open(str(tmp_path / name), "w")
        stream = container.add_stream("mpeg4", rate=25)
        stream.width = stream.height = 64
        container.start_encoding()
        container.close()
        _bad([str(tmp_path / name)], capsys, tmp_path, name)


def test_options_that_do_not_fit_the_input_are_refused(clips, tmp_path, capsys):
    _bad([str(clips["one"]), "--width", "640", "--height", "480"], capsys, tmp_path, "not for videos")
    keypoints = tmp_path / "k.json"
    keypoints.write_text(json.dumps([{"image_id": 0, "keypoints": [1.0] * 51}]))
    _bad([str(keypoints), "--online"], capsys, tmp_path, "only for videos")
    (tmp_path / "x.onnx").write_bytes(b"junk")
    _bad([str(clips["one"]), "--detector-model", str(tmp_path / "x.onnx")], capsys, tmp_path,
         "not an ONNX model")


def test_missing_detector_extra_names_the_install_line(clips, tmp_path, capsys, monkeypatch):
    for name in [m for m in sys.modules if m == "mediapipe" or m.startswith("mediapipe.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "mediapipe", None)  # import mediapipe -> ImportError
    _bad([str(clips["one"])], capsys, tmp_path, "pip install 'starpose[video]'")


def test_sigterm_mid_video_leaves_nothing(clips, tmp_path):
    clip = make_clip(tmp_path / "long.mp4", 150)
    out = tmp_path / "res"
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1] / "src"))
    proc = subprocess.Popen([sys.executable, "-m", "starpose.cli", "lift", str(clip), "--out",
                             str(out / "r.npz"), "--render", str(out / "r.mp4")],
                            stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, env=env)
    deadline = time.time() + 60
    seen = b""
    while b"frame" not in seen and time.time() < deadline:  # the progress bar has started
        seen += os.read(proc.stderr.fileno(), 256)
    time.sleep(0.5)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=60) == 143
    assert not out.exists() or not any(out.iterdir())
