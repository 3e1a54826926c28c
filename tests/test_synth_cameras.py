"""The varied camera sampler (ranges, the person in view), size-scaled detector noise, and
``starpose synth --cameras varied`` with its per-take camera file."""
import numpy as np
import pytest

from starpose.cli import main
from starpose.data.synth.anthropometry import subject_body, subject_style
from starpose.data.synth.motion import take_motion
from starpose.datasets.h36m.files import load_h36m
from starpose.datasets.h36m.layout import h36m_cameras
from starpose.data.safe_pickle import load_npz
from starpose.data.skeleton import JOINTS_KEPT_FOR_17
from starpose.data.synth.cameras import VARIED, in_view, pitch_of, sample_cameras
from starpose.data.synth.varied import confidence, sized_detector_noise, varied_views
from starpose.datasets.h36m.synthetic import generate_arrays
from starpose.data.take_cameras import TAKE_CAMERAS_FILE


@pytest.fixture(scope="module")
def walk():
    rng = np.random.default_rng(1)
    world = take_motion("Walking", 300, subject_body("S1", 0), rng, subject_style("S1", 0))
    return world[:, JOINTS_KEPT_FOR_17].astype(np.float64)


@pytest.fixture(scope="module")
def cameras(walk):
    return sample_cameras(np.random.default_rng(0), 300, walk)


def _rotation(camera):
    from starpose.data.synth.cameras import _rotation
    return _rotation(camera.orientation)


def test_cameras_stay_in_the_stated_ranges(cameras, walk):
    centre = walk[:, 0, :2].mean(0)
    heights = np.array([c.translation[2] for c in cameras])
    distances = np.array([np.linalg.norm(c.translation[:2] - centre) for c in cameras])
    pitches = np.array([pitch_of(c) for c in cameras])
    assert VARIED.height[0] <= heights.min() and heights.max() <= VARIED.height[1]
    assert VARIED.distance[0] <= distances.min() - 1e-9 and distances.max() <= VARIED.distance[1] + 1e-9
    assert VARIED.pitch[0] <= pitches.min() and pitches.max() <= VARIED.pitch[1]
    # The ranges are used, not a corner of them: yaw all round, low and high, near and far.
    azimuths = np.degrees(np.arctan2(*(np.stack([c.translation[:2] - centre for c in cameras])[:, ::-1].T)))
    assert np.histogram(azimuths, bins=8, range=(-180, 180))[0].min() > 0
    assert heights.min() < 0.6 and heights.max() > 2.2 and distances.min() < 3 and distances.max() > 8
    assert pitches.min() < -10 and pitches.max() > 30
    # Roll: the camera's x axis stays within a few degrees of the horizontal.
    tilt = np.degrees(np.arcsin(np.abs([_rotation(c)[2, 0] for c in cameras])))
    assert tilt.max() < 12


def test_image_sizes_aspects_and_fields_of_view(cameras):
    aspects = {round(c.res_w / c.res_h, 2) for c in cameras}
    assert aspects == {round(a, 2) for _, a in VARIED.aspects}  # 4:3, 16:9, 9:16, 1:1 all drawn
    shorts = {min(c.res_w, c.res_h) for c in cameras}
    assert shorts == set(VARIED.short_sides)  # 480p to 4K
    fov = np.array([2 * np.degrees(np.arctan(max(c.res_w, c.res_h) / 2 / c.focal_length[0])) for c in cameras])
    lo = min(r[0] for _, _, r in VARIED.devices)
    hi = max(r[1] for _, _, r in VARIED.devices)
    assert lo - 1e-6 <= fov.min() and fov.max() <= hi + 1e-6 and fov.max() - fov.min() > 40
    for c in cameras:
        assert np.allclose(c.center, [c.res_w / 2, c.res_h / 2]) and not c.radial_distortion.any()


def test_the_person_is_in_view_anywhere_in_the_image_and_partly_outside_at_times(cameras, walk):
    positions, partly_outside = [], 0
    for c in cameras:
        assert in_view(c, walk)
        cam = c.world_to_camera(walk)
        assert cam[..., 2].min() >= VARIED.min_depth
        uv = c.project(walk)
        root_inside = ((uv[:, 0, 0] >= 0) & (uv[:, 0, 0] <= c.res_w) & (uv[:, 0, 1] >= 0)
                       & (uv[:, 0, 1] <= c.res_h))
        assert root_inside.mean() >= VARIED.root_inside
        outside = (uv[..., 0] < 0) | (uv[..., 0] > c.res_w) | (uv[..., 1] < 0) | (uv[..., 1] > c.res_h)
        partly_outside += bool(outside.any())
        positions.append(uv[:, 0].mean(0) / [c.res_w, c.res_h])
    positions = np.array(positions)
    # Anywhere: the person's mean image position spreads over the image, not only its centre.
    assert positions.min(0).max() < 0.25 and positions.max(0).min() > 0.75
    assert 0 < partly_outside < len(cameras)


def test_human36m_cameras_stay_a_subset_of_the_varied_views(walk):
    for take_index in range(4):
        first = h36m_cameras("S9")[take_index]
        cams, gt, noisy = varied_views(walk, first, np.random.default_rng(take_index))
        assert cams[0] is first and len(cams) == len(gt) == len(noisy) == 4
        assert all(c.id.startswith("varied") for c in cams[1:])
    arrays = generate_arrays("tiny", 0, subjects=("S9",), cameras="varied")
    ids = {tuple(np.round(t[0, :2])) for t in arrays["cameras"]["intrinsics"]["S9"].values()}
    assert ids <= {tuple(np.round(c.focal_length)) for c in h36m_cameras("S9")}


def test_detector_noise_scales_with_the_person_in_pixels():
    rng = np.random.default_rng(3)
    base = np.cumsum(rng.normal(0, 1, (200, 17, 2)), 0) + np.linspace([0, 0], [0, 500], 17)[None] + 800
    small, large = base, (base - 800) * 4 + 2000
    size_small, size_large = (2000, 2000), (8000, 8000)
    noisy_small = sized_detector_noise(small, size_small, np.random.default_rng(9))
    noisy_large = sized_detector_noise(large, size_large, np.random.default_rng(9))
    np.testing.assert_allclose(noisy_large - large, 4 * (noisy_small - small), rtol=1e-3, atol=1e-2)
    assert 0.5 < np.abs(noisy_small - small).mean() < 20


def test_confidence_drops_outside_the_image_and_for_extremities():
    keypoints = np.full((50, 17, 2), 500.0) + np.linspace([0, 0], [0, 450], 17)[None]
    keypoints[:, 16, 0] = -200  # right wrist far left of the image
    conf = confidence(keypoints, (1000, 1000), np.random.default_rng(0))
    assert conf[:, 16].max() < 0.25 < conf[:, :16].min()
    assert conf[:, 13].mean() < conf[:, 8].mean()  # a wrist below the spine


def test_varied_arrays_carry_cameras_and_root_in_camera_coordinates():
    arrays = generate_arrays("tiny", 0, subjects=("S9",), cameras="varied")
    take = "Walking 1"
    world = arrays["3d"]["S9"][take][:, JOINTS_KEPT_FOR_17]
    entry = {k: v["S9"][take] for k, v in arrays["cameras"].items()}
    assert entry["intrinsics"].shape == (4, 9) and entry["image_size"].shape == (4, 2)
    for index, root in enumerate(entry["root_camera"]):
        from starpose.data.cameras import world_to_camera
        expected = world_to_camera(world[:, 0].astype(np.float64), entry["orientation"][index].astype(np.float64),
                                   entry["translation"][index].astype(np.float64))
        np.testing.assert_allclose(root, expected, atol=1e-3)
        assert root[:, 2].min() > 0.4  # in front of the camera
    sizes = {tuple(s) for t in arrays["cameras"]["image_size"]["S9"].values() for s in t[1:]}
    assert len(sizes) > 3  # the image sizes vary from take to take


def test_synth_cameras_varied_writes_a_folder_the_loader_reads(tmp_path, capsys):
    out = tmp_path / "varied"
    assert main(["synth", "--out", str(out), "--preset", "tiny", "--cameras", "varied"]) == 0
    assert (out / TAKE_CAMERAS_FILE).is_file()
    sequences = load_h36m(out, "noisy", ["S9"])
    assert len(sequences) == 30 * 4
    assert len({(s.camera.res_w, s.camera.res_h) for s in sequences}) > 4
    contents = load_npz(out / TAKE_CAMERAS_FILE)
    assert set(contents) == {"intrinsics", "orientation", "translation", "image_size", "root_camera"}
    # Back to Human3.6M cameras: the per-take camera file goes with the old data.
    assert main(["synth", "--out", str(out), "--preset", "tiny"]) == 0
    assert not (out / TAKE_CAMERAS_FILE).exists()


def test_unknown_camera_set_is_one_line_and_writes_nothing(tmp_path, capsys):
    out = tmp_path / "nothing"
    assert main(["synth", "--out", str(out), "--preset", "tiny", "--cameras", "fancy"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "fancy" in err and "varied" in err
    assert not out.exists()
    assert main(["synth", "--dataset", "humaneva", "--out", str(out), "--cameras", "varied"]) == 2
    assert not out.exists()
