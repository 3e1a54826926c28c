"""The model's input normalisation: framing-invariant box input, rays, the published screen input
kept as it was, recorded in checkpoints and used wherever a model is fed."""
import numpy as np
import pytest
import torch

from starpose.data.cameras import normalize_screen_coordinates
from starpose.datasets.h36m.files import Sequence
from starpose.data.model_input import box_input, input_norm_of, model_input, sequence_input
from starpose.data.synth.cameras import focal_from_fov
from starpose.datasets.mpi_inf_3dhp.studio_cameras import aimed_camera
from starpose.evaluate.protocol import predict_all
from starpose.formats import Keypoints2D
from starpose.inference.predictors import TorchPredictor
from starpose.lift.lifting import lift_keypoints, normalised_input
from starpose.models.checkpoints import export_checkpoint, load_model, save_checkpoint
from starpose.models.mixste import MixSTE
from starpose.models.presets import get_preset
from dataclasses import replace

from starpose.errors import StarposeError


def _person(frames=30, seed=0):
    """A person's 2D keypoints (T, 17, 2) in a 1000x1002 Human3.6M frame."""
    rng = np.random.default_rng(seed)
    body = np.stack([np.linspace(-60, 60, 17), np.linspace(-220, 220, 17)], -1)
    walk = np.cumsum(rng.normal(0, 2, (frames, 1, 2)), 0)
    return 500 + body[None] + walk + rng.normal(0, 3, (frames, 17, 2))


def _keypoints(xy, width, height):
    T = len(xy)
    return Keypoints2D(xy=xy.astype(np.float32), confidence=np.ones((T, 17), np.float32), width=width,
                       height=height, fps=50.0, source_format="numpy", name="clip")


def test_same_person_in_two_framings_gives_the_same_model_input():
    h36m = _person()
    # The same person in a 3840x2160 video: 3.1 times larger, 900 px right of the centre.
    uhd = (h36m - 500) * 3.1 + np.array([1920 + 900, 1080 - 150])
    a = normalised_input(_keypoints(h36m, 1000, 1002), 17, "box")
    b = normalised_input(_keypoints(uhd, 3840, 2160), 17, "box")
    np.testing.assert_allclose(a, b, atol=1e-6, rtol=0)
    assert a.dtype == np.float32 and np.abs(a).max() < 2
    # The published input is not framing-invariant (and is what screen models keep getting).
    s1 = normalised_input(_keypoints(h36m, 1000, 1002), 17, "screen")
    s2 = normalised_input(_keypoints(uhd, 3840, 2160), 17, "screen")
    assert np.abs(s1 - s2).max() > 0.1
    np.testing.assert_array_equal(s1, normalize_screen_coordinates(
        h36m.astype(np.float32), 1000, 1002).astype(np.float32))


def test_box_input_is_centred_scaled_and_idempotent():
    x = box_input(_person())
    centre = ((x.max(1) + x.min(1)) / 2).mean(0)
    np.testing.assert_allclose(centre, 0, atol=1e-6)
    np.testing.assert_allclose(box_input(x), x, atol=1e-6)


def test_rays_are_the_same_for_one_camera_at_any_resolution():
    pixels = _person()
    small = model_input(pixels, "rays", (1000, 1002), focal=(1145.0, 1144.0), centre=(512.0, 515.0))
    large = model_input(pixels * 2, "rays", (2000, 2004), focal=(2290.0, 2288.0), centre=(1024.0, 1030.0))
    np.testing.assert_allclose(small, large, atol=1e-6)
    with pytest.raises(ValueError, match="focal length"):
        model_input(pixels, "rays", (1000, 1002))


def test_loaded_sequences_are_renormalised_from_their_camera():
    camera = aimed_camera("c", (1920, 1080), focal_from_fov((1920, 1080), 60.0), 0.3, 4.0, 1.5, (0, 0))
    pixels = _person() + [400, 0]
    screen = camera.normalize(pixels.astype(np.float32))
    seq = Sequence("S9", "Walking", 0, screen, np.zeros((30, 17, 3), np.float32), camera)
    np.testing.assert_allclose(sequence_input(seq, "box").keypoints_2d, box_input(pixels), atol=1e-5)
    rays = (pixels - camera.center) / camera.focal_length
    np.testing.assert_allclose(sequence_input(seq, "rays").keypoints_2d, rays, atol=1e-5)
    assert sequence_input(seq, "screen") is seq


def _box_model():
    torch.manual_seed(0)
    return MixSTE.from_config(replace(get_preset("star-mixste-27").model, input_norm="box")).eval()


def test_checkpoints_record_the_input_normalisation(tmp_path):
    model = _box_model()
    save_checkpoint(tmp_path / "box.pt", model)
    assert load_model(tmp_path / "box.pt").input_norm == "box"
    # A published-layout file without starpose's configuration is a published (screen) model.
    export_checkpoint(tmp_path / "box.pt", "published", tmp_path / "published.bin")
    data = torch.load(tmp_path / "published.bin", weights_only=True)
    data.pop("starpose_config", None)
    torch.save(data, tmp_path / "bare.bin")
    assert load_model(tmp_path / "bare.bin").input_norm == "screen"
    assert input_norm_of(TorchPredictor(model)) == "box"
    with pytest.raises(ValueError, match="input normalisation"):
        replace(model.config, input_norm="pixels")


def test_evaluate_and_lift_feed_a_box_model_its_own_input():
    model = _box_model()
    world_cam = np.zeros((60, 17, 3), np.float32)
    pixels = _person(60)
    seqs = []
    for size, scale, shift in (((1000, 1002), 1.0, (0, 0)), ((3840, 2160), 3.1, (2000, 300))):
        camera = aimed_camera("c", size, 1000.0, 0.0, 4.0, 1.5, (0, 0))
        framed = (pixels - 500) * scale + 500 + np.array(shift)
        seqs.append(Sequence("S9", "Walking", 0, camera.normalize(framed.astype(np.float32)),
                             world_cam, camera))
    first, second = predict_all(model, seqs, batch_size=8)
    torch.testing.assert_close(first, second, atol=1e-5, rtol=0)
    lifted = [lift_keypoints(model, _keypoints((pixels - 500) * s + 500 + np.array(d), *size))["positions_3d"]
              for size, s, d in (((1000, 1002), 1.0, (0, 0)), ((3840, 2160), 3.1, (2000, 300)))]
    np.testing.assert_allclose(lifted[0], lifted[1], atol=1e-5)


def test_lift_feeds_a_rays_model_rays_of_the_given_or_typical_camera():
    from starpose.world.intrinsics import TYPICAL_FOV_DEG, focal_from_fov as fov_focal

    pixels = _person() + [1000, 0]
    kp = _keypoints(pixels, 1920, 1080)
    typical = fov_focal((1920, 1080), TYPICAL_FOV_DEG)
    np.testing.assert_allclose(normalised_input(kp, 17, "rays"),
                               (pixels - [960, 540]) / typical, atol=1e-6)
    np.testing.assert_allclose(normalised_input(kp, 17, "rays", focal_px=1500.0),
                               (pixels - [960, 540]) / 1500.0, atol=1e-6)
    np.testing.assert_allclose(normalised_input(kp, 17, "rays", fov=40.0),
                               (pixels - [960, 540]) / fov_focal((1920, 1080), 40.0), atol=1e-6)
    # One lens at two resolutions (the field of view given): the same input.
    half = _keypoints((pixels - [960, 540]) / 2 + [480, 270], 960, 540)
    np.testing.assert_allclose(normalised_input(half, 17, "rays", fov=55.0),
                               normalised_input(kp, 17, "rays", fov=55.0), atol=1e-6)
    with pytest.raises(StarposeError, match="image size is unknown"):
        normalised_input(replace(kp, width=None, height=None), 17, "rays")


@pytest.mark.parametrize("norm", ["screen", "box", "rays"])
def test_the_online_lifter_normalises_each_window_as_the_model_asks(norm):
    from starpose.video.online import OnlineLifter

    seen = []

    class Window:  # records what it is fed
        frames, num_joints, input_norm = 5, 17, norm

        def __call__(self, windows):
            seen.append(windows[0].copy())
            return np.zeros(windows.shape[:-1] + (3,), np.float32)

    lifter = OnlineLifter(Window(), 1920, 1080, focal_px=1200.0)
    pixels = _person(8) + [700, 0]
    for frame in pixels:
        lifter.push(frame, np.ones(17))
    expected = model_input(pixels[-5:], norm, (1920, 1080), focal=(1200.0, 1200.0), centre=(960.0, 540.0))
    np.testing.assert_allclose(seen[-1], expected, atol=1e-6)
    # The first window is the first frame repeated, normalised the same way.
    np.testing.assert_allclose(seen[0], model_input(np.repeat(pixels[:1], 5, 0), norm, (1920, 1080),
                                                    focal=(1200.0, 1200.0), centre=(960.0, 540.0)), atol=1e-6)


def test_lift_command_gives_a_rays_model_the_lens_or_says_what_it_assumes(tmp_path, capsys):
    from tests.keypoint_writers import write_npy
    from starpose.cli import main

    torch.manual_seed(0)
    model = MixSTE.from_config(replace(get_preset("star-mixste-27").model, input_norm="rays")).eval()
    save_checkpoint(tmp_path / "rays.pt", model)
    path = write_npy(tmp_path / "walk.npy", (_person(40) + [600, 0]).astype(np.float32))
    common = ["lift", str(path), "--checkpoint", str(tmp_path / "rays.pt"), "--width", "1920",
              "--height", "1080", "--fps", "30", "--no-world", "--threads", "1"]
    results = {}
    for name, extra in (("typical", []), ("fov70", ["--fov", "70"]), ("fov40", ["--fov", "40"]),
                        ("focal", ["--focal-px", str(960 / np.tan(np.radians(20)))])):
        assert main(common + ["--out", str(tmp_path / f"{name}.npz")] + extra) == 0
        err = capsys.readouterr().err
        assert ("assuming a 70-degree field of view" in err) == (name == "typical")
        results[name] = np.load(tmp_path / f"{name}.npz")["positions_3d"]
    np.testing.assert_array_equal(results["typical"], results["fov70"])  # one thread: the same sums
    np.testing.assert_allclose(results["fov40"], results["focal"], atol=1e-6)
    assert np.abs(results["fov40"] - results["fov70"]).max() > 1e-4  # the lens reaches the model
