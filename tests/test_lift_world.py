"""``starpose lift`` with world motion, end to end with the bundled models: a synthetic walk
through a known camera comes out with its trajectory, floor and contacts; bad camera flags are
one line; the result exports as a BVH that walks; `render` draws the world."""
import numpy as np
import pytest

from starpose.cli import main
from starpose.data.skeleton import JOINTS_KEPT_FOR_17
from starpose.datasets.h36m.synthetic import generate_arrays
from starpose.data.take_cameras import _cameras
from starpose.lift import read_result
from starpose.world.body import ankle_height
from tests.test_mocap_export import read_back


@pytest.fixture(scope="module")
def walk(tmp_path_factory):
    """A synthetic S9 walk through its Human3.6M camera: the 2D file, the camera, the truth."""
    arrays = generate_arrays("tiny", 0, False, subjects=("S9",), cameras="varied")
    take = "Walking 1"
    cams = _cameras(arrays["cameras"], "S9", take, arrays["cameras"]["intrinsics"]["S9"][take])
    world = arrays["3d"]["S9"][take][:, list(JOINTS_KEPT_FOR_17)].astype(np.float64)
    folder = tmp_path_factory.mktemp("walk")
    np.save(folder / "walk.npy", arrays["noisy"]["S9"][take][0])
    return folder / "walk.npy", cams[0], world


def _lift(walk, out, *extra):
    path, cam, _ = walk
    return main(["lift", str(path), "--out", str(out), "--width", str(cam.res_w), "--height",
                 str(cam.res_h), "--fps", "50", *map(str, extra)])


@pytest.mark.parametrize("flags, words", [(["--fov", "0"], "--fov 0"),
                                          (["--focal-px", "-5"], "--focal-px -5"),
                                          (["--stature", "5"], "--stature 5")])
def test_bad_camera_flags_are_one_line_and_write_nothing(walk, tmp_path, capsys, flags, words):
    assert _lift(walk, tmp_path / "r.npz", *flags) == 2
    err = capsys.readouterr().err.strip()
    assert words in err and "\n" not in err and "Traceback" not in err
    assert list(tmp_path.iterdir()) == []


def test_lift_places_the_walk_in_the_world_and_exports_it(walk, tmp_path, capsys):
    path, cam, world = walk
    focal = float(cam.intrinsics[0])
    assert _lift(walk, tmp_path / "walk3d.npz", "--focal-px", focal) == 0
    line = capsys.readouterr().out
    assert "root by the model estimate" in line and "mm/frame" in line and "stature" in line
    result = read_result(tmp_path / "walk3d.npz")
    truth = cam.world_to_camera(world)
    frames = len(truth)
    assert result["intrinsics"] == pytest.approx([focal, focal, cam.res_w / 2, cam.res_h / 2])
    distance = np.linalg.norm(truth[:, 0], axis=-1)
    error = np.linalg.norm(result["root_cam"] - truth[:, 0], axis=-1)
    assert (error / distance).mean() < 0.12  # synthetic S9 is 1.80 m, the default 1.70
    assert result["joints_cam"][:, 0] == pytest.approx(result["root_cam"], abs=1e-5)
    joints = result["joints_world"]
    assert joints.shape == (frames, 17, 3) and result["contacts"].shape == (frames, 2)
    resting = np.percentile(joints[:, (3, 6), 1].min(1), 10)
    assert resting == pytest.approx(ankle_height(joints), abs=0.03)  # feet on the floor y = 0
    assert 0.1 < result["contacts"].mean() < 0.9
    walked = np.linalg.norm(joints[-1, 0, [0, 2]] - joints[0, 0, [0, 2]])
    truly = np.linalg.norm(world[-1, 0, :2] - world[0, 0, :2])
    assert walked == pytest.approx(truly, rel=0.35)
    assert np.abs(result["positions_3d"][:, 0]).max() == 0  # root-relative, as before
    # The BVH carries the trajectory.
    assert main(["mocap", "export", str(tmp_path / "walk3d.npz"), "--out",
                 str(tmp_path / "walk.bvh")]) == 0
    _, back = read_back(tmp_path / "walk.bvh")
    assert np.linalg.norm(back[-1, 0, [0, 2]] - back[0, 0, [0, 2]]) == pytest.approx(walked, abs=0.01)


def test_geometric_root_no_lock_and_no_world(walk, tmp_path, capsys):
    # one thread for both lifts (`--threads auto` may pick another count for the second)
    assert _lift(walk, tmp_path / "geo.npz", "--trajectory", "geometric", "--no-foot-lock",
                 "--threads", "1") == 0
    geo = read_result(tmp_path / "geo.npz")
    assert "geometric" in capsys.readouterr().out
    raw = np.load(tmp_path / "geo.npz")
    assert str(raw["root_method"]) == "geometric"
    assert raw["foot_sliding_m"][0] == pytest.approx(raw["foot_sliding_m"][1])
    assert _lift(walk, tmp_path / "plain.npz", "--no-world", "--threads", "1") == 0
    plain = read_result(tmp_path / "plain.npz")
    assert plain["joints_world"] is None and plain["root_cam"] is None
    assert plain["positions_3d"] == pytest.approx(geo["positions_3d"])


def test_render_draws_the_world_panel_and_picture(walk, tmp_path, capsys):
    from PIL import Image

    from starpose.viz.animation import read_video_info

    assert _lift(walk, tmp_path / "walk3d.npz") == 0
    assert main(["render", str(tmp_path / "walk3d.npz"), "--out", str(tmp_path / "w.gif"),
                 "--limit", "10", "--world-plot", str(tmp_path / "world.png")]) == 0
    info = read_video_info(tmp_path / "w.gif")
    assert info.num_frames == 10 and info.width == 3 * 300  # 2D, lifted 3D, world
    picture = np.asarray(Image.open(tmp_path / "world.png").convert("RGB"))
    assert picture.shape[:2] == (500, 600) and picture.std() > 10
    assert _lift(walk, tmp_path / "plain.npz", "--no-world") == 0
    capsys.readouterr()
    assert main(["render", str(tmp_path / "plain.npz"), "--world-plot",
                 str(tmp_path / "none.png")]) == 2
    err = capsys.readouterr().err.strip()
    assert "joints_world" in err and "\n" not in err and not (tmp_path / "none.png").exists()


def test_a_given_stature_sets_the_size(walk, tmp_path, capsys):
    assert _lift(walk, tmp_path / "tall.npz", "--stature", "1.9") == 0
    assert "stature 1.90 m" in capsys.readouterr().out
    raw = np.load(tmp_path / "tall.npz")
    assert float(raw["stature_m"]) == pytest.approx(1.9) and str(raw["root_method"]) == "geometric"


def test_world_options_of_a_video_are_checked_before_it_is_read(tmp_path, capsys):
    """Videos get world motion too (tests/test_video_lift.py): a bad camera value is refused
    in one line before the video is decoded."""
    (tmp_path / "clip.mp4").write_bytes(b"\x00" * 16)
    assert main(["lift", str(tmp_path / "clip.mp4"), "--out", str(tmp_path / "r.npz"),
                 "--fov", "0"]) == 2
    err = capsys.readouterr().err.strip()
    assert "--fov" in err and "not a readable video" not in err and "\n" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip.mp4"]
