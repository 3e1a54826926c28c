"""Plots and animations write the files they promise (small sizes keep this fast)."""
import numpy as np
import pytest
from PIL import Image

from starpose.data.skeleton import H36M_17
from starpose.errors import StarposeError
from starpose.viz import (
    plot_per_joint_error,
    plot_training_curves,
    plot_trajectories,
    read_video_info,
    render_animation,
)
from starpose.viz import animation
from starpose.viz.plots import read_training_curves

# A standing pose in camera coordinates (metres; y down, z forward), H36M_17 joint order.
_STANDING = np.array([
    [0, 0, 0], [-0.13, 0, 0], [-0.13, 0.45, 0], [-0.13, 0.9, 0], [0.13, 0, 0], [0.13, 0.45, 0],
    [0.13, 0.9, 0], [0, -0.25, 0], [0, -0.5, 0], [0, -0.6, -0.05], [0, -0.7, 0], [0.17, -0.45, 0],
    [0.2, -0.2, 0], [0.22, 0, -0.1], [-0.17, -0.45, 0], [-0.2, -0.2, 0], [-0.22, 0, -0.1],
])


def _sequence(num_frames):
    """A waving subject 4 m in front of the camera and its projection in pixels."""
    poses = np.repeat(_STANDING[None], num_frames, axis=0) + np.array([0, 0, 4.0])
    poses[:, 13, 1] -= 0.3 * np.sin(np.linspace(0, 2 * np.pi, num_frames))
    keypoints = poses[..., :2] / poses[..., 2:] * 1000 + 500
    return keypoints, poses


def _png_size(path):
    with Image.open(path) as im:
        assert im.format == "PNG"
        return im.size


def test_gif_frames_and_size(tmp_path):
    keypoints, poses = _sequence(12)
    out = tmp_path / "anim.gif"
    n = render_animation(keypoints, {"Prediction": poses + 0.01, "Ground truth": poses}, out,
                         size=(240, 80), image_size=(1000, 1000))
    assert n == 12
    assert read_video_info(out) == (12, 240, 80)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp file left


def test_gif_limit_downsample_and_float_size(tmp_path):
    keypoints, poses = _sequence(20)
    out = tmp_path / "anim.gif"
    n = render_animation(keypoints, {"Prediction": poses}, out, size=1.0, limit=15, downsample=2)
    assert n == 8  # frames 0, 2, ..., 14
    assert read_video_info(out) == (8, 200, 100)  # two 1-inch panels at 100 dpi


def test_gif_without_2d_and_torch_input(tmp_path):
    torch = pytest.importorskip("torch")
    _, poses = _sequence(4)
    out = tmp_path / "only3d.gif"
    assert render_animation(None, {"Pose": torch.tensor(poses)}, out, size=1.0, root_relative=True) == 4
    assert read_video_info(out) == (4, 100, 100)


def test_mp4_written(tmp_path):
    if animation._ffmpeg_exe() is None:
        pytest.skip("no ffmpeg binary")
    keypoints, poses = _sequence(10)
    out = tmp_path / "anim.mp4"
    n = render_animation(keypoints, {"Prediction": poses}, out, size=(161, 81), fps=25)
    assert n == 10
    assert out.stat().st_size > 0
    info = read_video_info(out)
    assert info.num_frames == 10
    assert (info.width, info.height) == (162, 82)  # padded to even for yuv420p


def test_mp4_without_ffmpeg_suggests_gif(tmp_path, monkeypatch):
    monkeypatch.setattr(animation, "_ffmpeg_exe", lambda: None)
    keypoints, poses = _sequence(3)
    with pytest.raises(StarposeError, match=r"\.gif"):
        render_animation(keypoints, {"Prediction": poses}, tmp_path / "anim.mp4")
    assert not list(tmp_path.iterdir())


def test_animation_input_errors(tmp_path):
    keypoints, poses = _sequence(5)
    with pytest.raises(StarposeError, match="extension"):
        render_animation(keypoints, {"P": poses}, tmp_path / "anim.avi")
    with pytest.raises(StarposeError, match="same number of frames"):
        render_animation(keypoints[:4], {"P": poses}, tmp_path / "anim.gif")
    with pytest.raises(StarposeError, match=r"\(T, 17, 3\)"):
        render_animation(keypoints, {"P": poses[:, :16]}, tmp_path / "anim.gif")
    with pytest.raises(StarposeError, match="nothing to render"):
        render_animation(None, {}, tmp_path / "anim.gif")


def test_frame_rendering_shows_skeleton():
    keypoints, poses = _sequence(3)
    scene = animation._Scene(keypoints, {"P": poses}, H36M_17, 70.0, 15.0, 1.5, None)
    rgb = scene.frame(1)
    assert rgb.shape == (150, 300, 3) and rgb.dtype == np.uint8
    red = (rgb[..., 0] > 150) & (rgb[..., 1] < 100) & (rgb[..., 2] < 100)
    assert red.sum() > 20  # right-side bones are drawn in red


def test_training_curves_from_rows_and_csv(tmp_path):
    rows = [{"epoch": e, "train_loss": 1 / e, "val_mpjpe": 80 - e, "lr": 1e-3 * 0.9**e} for e in range(1, 6)]
    out = plot_training_curves(rows, tmp_path / "curves.png")
    assert _png_size(out)[0] > 0
    csv_path = tmp_path / "log.csv"
    csv_path.write_text("epoch,train_loss,val_mpjpe,lr\n1,0.5,,0.001\n2,0.4,70.5,0.0009\n")
    assert _png_size(plot_training_curves(csv_path, tmp_path / "sub" / "curves2.png"))[0] > 0
    with pytest.raises(StarposeError):
        plot_training_curves([], tmp_path / "empty.png")
    with pytest.raises(StarposeError, match="not found"):
        plot_training_curves(tmp_path / "missing.csv", tmp_path / "x.png")


def test_training_curves_of_a_real_run(tiny_dataset_dir, tmp_path):
    """The trainer's own metrics.csv: the loss curve (its ``train_total`` column) is read and drawn."""
    from starpose.train.loop import TrainConfig, Trainer

    config = TrainConfig(data_dir=str(tiny_dataset_dir), out=str(tmp_path / "run"), preset="star-mixste-27",
                         model_overrides={"dim": 16, "depth": 1, "num_heads": 2}, epochs=2, batch_size=4,
                         max_batches_per_epoch=2, subjects_train=("S1",), subjects_test=("S9",),
                         actions=("Walking",), progress=False)
    rows = Trainer(config).fit()
    curves = read_training_curves(tmp_path / "run" / "metrics.csv")
    np.testing.assert_allclose(curves["train_loss"], [r["train_total"] for r in rows], rtol=1e-12)
    np.testing.assert_allclose(curves["val_mpjpe"], [r["val_mpjpe"] for r in rows], rtol=1e-12)
    np.testing.assert_allclose(curves["lr"], [r["lr"] for r in rows], rtol=1e-12)
    assert curves["epoch"].tolist() == [1, 2]
    assert _png_size(plot_training_curves(tmp_path / "run" / "metrics.csv", tmp_path / "curves.png"))[0] > 0
    assert read_training_curves([{"epoch": 1, "train_loss": 0.5}])["train_loss"].tolist() == [0.5]


def test_per_joint_error_plots(tmp_path):
    errors = np.linspace(20, 90, 17)
    assert _png_size(plot_per_joint_error(errors, tmp_path / "one.png"))[0] > 0
    out = plot_per_joint_error(errors, tmp_path / "two.png", compare=errors + 5, labels=("star", "vanilla"))
    assert _png_size(out)[0] > 0
    with pytest.raises(StarposeError):
        plot_per_joint_error(errors, tmp_path / "bad.png", compare=errors[:5])


def test_trajectory_plot(tmp_path):
    _, poses = _sequence(30)
    out = plot_trajectories({"prediction": poses + 0.01, "ground truth": poses}, tmp_path / "traj.png", fps=50)
    assert _png_size(out)[0] > 0
    assert _png_size(plot_trajectories(poses, tmp_path / "traj1.png", joints=["LWrist", 0]))[0] > 0
    with pytest.raises(StarposeError, match="unknown joint"):
        plot_trajectories(poses, tmp_path / "bad.png", joints=["Tail"])
