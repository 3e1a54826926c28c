"""World motion (starpose.world): intrinsics, the geometric root, the floor, contacts, foot
sliding and the scores, each against numbers worked out or constructed by hand."""
import math

import numpy as np
import pytest

from starpose.data.skeleton import JOINTS_KEPT_FOR_17
from starpose.datasets.h36m.synthetic import generate_arrays
from starpose.data.take_cameras import _cameras
from starpose.errors import StarposeError
from starpose.world import TYPICAL_FOV_DEG, intrinsics_for, world_motion
from starpose.world.body import TYPICAL_STATURE_M, ankle_height, scaled_to_stature, stature
from starpose.world.contacts import HEIGHT_MARGIN, MAX_SPEED, foot_contacts
from starpose.world.floor import fit_floor, to_world
from starpose.world.foot_sliding import foot_sliding, remove_sliding
from starpose.world.intrinsics import focal_from_fov, fov_from_focal, to_rays
from starpose.world.root_geometric import root_from_pose
from starpose.world.scores import rigid_alignment, root_errors, w_mpjpe


@pytest.fixture(scope="module")
def takes():
    """Synthetic S9 takes through varied cameras: (world z-up (T, 17, 3), cameras, noisy 2D)."""
    arrays = generate_arrays("tiny", 0, False, subjects=("S9",), cameras="varied")
    out = []
    for take in ("Walking 1", "Directions 1", "WalkTogether 1"):
        world = arrays["3d"]["S9"][take][:, list(JOINTS_KEPT_FOR_17)].astype(np.float64)
        cams = _cameras(arrays["cameras"], "S9", take, arrays["cameras"]["intrinsics"]["S9"][take])
        out.append((world, cams, arrays["noisy"]["S9"][take]))
    return out


def _y_up(world):
    """Human3.6M's z-up world -> y up (a rotation): (x, y, z) -> (x, z, -y); floor at y = 0."""
    return np.stack([world[..., 0], world[..., 2], -world[..., 1]], axis=-1)


def test_intrinsics_from_a_field_of_view_and_the_typical_default():
    assert focal_from_fov((1920, 1080), 90) == pytest.approx(960)
    assert fov_from_focal((1920, 1080), 960) == pytest.approx(90)
    fx, fy, cx, cy = intrinsics_for((1280, 720))
    assert (cx, cy) == (640, 360) and fx == fy
    assert 2 * math.degrees(math.atan(640 / fx)) == pytest.approx(TYPICAL_FOV_DEG)
    assert intrinsics_for((640, 480), focal_px=500)[0] == 500
    assert to_rays(np.array([640 + 200, 360 - 100]), np.array([400, 400, 640, 360])) == \
        pytest.approx([0.5, -0.25])


@pytest.mark.parametrize("kw, words", [({"fov_deg": 0}, "field of view"),
                                       ({"fov_deg": 180}, "field of view"),
                                       ({"focal_px": -5}, "focal length"),
                                       ({"focal_px": 500, "fov_deg": 60}, "not both")])
def test_bad_camera_values_are_one_line(kw, words):
    with pytest.raises(StarposeError, match=words) as err:
        intrinsics_for((640, 480), **kw)
    assert "\n" not in str(err.value)


def test_geometric_root_is_exact_for_a_noiseless_projection(takes):
    world, cams, _ = takes[0]
    cam = cams[2]
    joints = cam.world_to_camera(world)
    fx, fy, cx, cy = cam.intrinsics[:4]
    pixels = joints[..., :2] / joints[..., 2:] * [fx, fy] + [cx, cy]
    root = root_from_pose(joints - joints[:, :1], pixels, np.array([fx, fy, cx, cy]))
    assert np.abs(root - joints[:, 0]).max() < 1e-6


def test_floor_and_gravity_of_a_walk_seen_by_a_tilted_camera(takes):
    world, cams, _ = takes[0]
    for cam in cams:
        joints = cam.world_to_camera(world)
        normal, point = fit_floor(joints)
        up = cam.world_to_camera(np.array([[0.0, 0, 1]]))[0] - cam.world_to_camera(np.zeros((1, 3)))[0]
        assert math.degrees(math.acos(np.clip(normal @ up, -1, 1))) < 3.0
        placed, rotation, _ = to_world(joints)
        assert np.allclose(rotation @ rotation.T, np.eye(3)) and np.linalg.det(rotation) > 0
        truth = _y_up(world)  # the synthetic floor is z = 0 under the lowest foot point
        # The ankles rest an ankle height above y = 0, as in the ground truth (within 3 cm).
        assert np.percentile(placed[:, (3, 6), 1].min(1), 10) == pytest.approx(
            np.percentile(truth[:, (3, 6), 1].min(1), 10), abs=0.03)
        assert placed[0, 0, [0, 2]] == pytest.approx([0, 0], abs=1e-9)


def test_contacts_follow_the_feet_of_a_walk(takes):
    truth = _y_up(takes[0][0])
    contacts = foot_contacts(truth, 50)
    speed = np.linalg.norm(np.gradient(truth[:, (3, 6)], axis=0) * 50, axis=-1)
    assert 0.2 < contacts.mean() < 0.9  # a walk: each foot rests for part of the stride
    assert speed[contacts].max() <= MAX_SPEED + 1e-9
    assert np.median(speed[~contacts]) > MAX_SPEED
    assert truth[:, (3, 6), 1][contacts].max() <= ankle_height(truth) + HEIGHT_MARGIN + 1e-9
    # A foot lifted 20 cm, or moving at 2 m/s, is not in contact.
    raised = truth.copy()
    raised[:, 3, 1] += 0.2
    assert not foot_contacts(raised, 50)[:, 0].any()
    moving = truth.copy()
    moving[:, 6, 0] += 0.04 * np.arange(len(truth))
    assert not foot_contacts(moving, 50)[:, 1].any()


def test_sliding_is_measured_and_removed_and_can_stay(takes):
    truth = _y_up(takes[0][0])
    contacts = foot_contacts(truth, 50)
    contacts[:, 1] &= ~contacts[:, 0]  # one foot at a time
    still = remove_sliding(truth, contacts)  # (the synthetic walk's own feet slide a little)
    assert foot_sliding(still, contacts) < 1e-9
    slid = still.copy()
    slid[..., 0] += 0.004 * np.arange(len(truth))[:, None]  # the body glides 4 mm per frame
    assert foot_sliding(slid, contacts) == pytest.approx(0.004)
    locked = remove_sliding(slid, contacts)
    assert foot_sliding(locked, contacts) < 1e-9
    # The drift filter leaves a steady glide (a slow error) mostly to the trajectory, but
    # removes a jittering root's sliding (a fast one).
    assert 0.002 < foot_sliding(remove_sliding(slid, contacts, 51), contacts) <= 0.004
    shaky = still.copy()
    shaky[..., [0, 2]] += np.random.default_rng(1).normal(0, 0.005, (len(still), 1, 2))
    assert foot_sliding(shaky, contacts) > 0.005
    assert foot_sliding(remove_sliding(shaky, contacts, 51), contacts) < 0.3 * foot_sliding(shaky, contacts)
    assert np.allclose(locked[..., 1], slid[..., 1])  # heights unchanged
    steps = np.linalg.norm(np.diff(locked[:, 0, [0, 2]], axis=0), axis=-1)
    assert steps.max() < 0.05  # the correction accumulates, it never jumps


def test_scores_by_hand():
    truth = np.array([[3.0, 0, 4], [0, 0, 10]])
    assert root_errors(truth + [0, 0.5, 0], truth) == pytest.approx((0.5, (0.1 + 0.05) / 2))
    rng = np.random.default_rng(0)
    joints = rng.normal(size=(20, 17, 3))
    angle = 0.7
    rot = np.array([[math.cos(angle), 0, math.sin(angle)], [0, 1, 0],
                    [-math.sin(angle), 0, math.cos(angle)]])
    moved = joints @ rot.T + [1, 2, 3]
    r, t = rigid_alignment(moved.reshape(-1, 3), joints.reshape(-1, 3))
    assert r == pytest.approx(rot.T) and w_mpjpe(moved, joints) == pytest.approx(0, abs=1e-9)
    drift = joints.copy()
    drift[2:] += [0.1, 0, 0]  # frames after the aligned two are off by 10 cm
    assert w_mpjpe(drift, joints) == pytest.approx(0.1 * 18 / 20)


def test_world_motion_from_noisy_2d_of_varied_cameras(takes):
    """With the true root-relative pose and stature and detector-like 2D: the root within 2% of the
    distance on average (8% for the worst camera: small, far people), and locking lowers the
    sliding."""
    fractions = []
    for world, cams, noisy in takes:
        for cam, kp in zip(cams, noisy):
            joints = cam.world_to_camera(world)
            rel = joints - joints[:, :1]
            out = world_motion(rel, kp, cam.intrinsics[:4], 50.0, stature_m=stature(rel))
            fractions.append(root_errors(out["root_cam"], joints[:, 0])[1])
            assert out["joints_world"].shape == world.shape and out["contacts"].shape == (len(world), 2)
            before, after = out["foot_sliding_m"]
            assert after < before
            plain = world_motion(rel, kp, cam.intrinsics[:4], 50.0, stature_m=stature(rel),
                                 lock_feet=False)
            assert plain["foot_sliding_m"][1] == pytest.approx(before)
    assert np.mean(fractions) < 0.02 and max(fractions) < 0.08


def test_the_pose_is_scaled_to_the_stature(takes):
    world, cams, noisy = takes[1]
    joints = cams[0].world_to_camera(world)
    rel = joints - joints[:, :1]
    assert stature(scaled_to_stature(rel, 1.5)) == pytest.approx(1.5)
    out = world_motion(0.6 * rel, noisy[0], cams[0].intrinsics[:4], 50.0)  # a shrunk lift
    assert stature(out["joints_cam"] - out["joints_cam"][:, :1]) == pytest.approx(TYPICAL_STATURE_M, rel=1e-4)
    depth = np.median(out["root_cam"][:, 2] / joints[:, 0, 2])
    assert depth == pytest.approx(TYPICAL_STATURE_M / stature(rel), rel=0.03)


def test_a_trajectory_model_sets_the_scale_and_the_fit_the_motion(takes):
    world, cams, _ = takes[0]
    cam = cams[1]
    joints = cam.world_to_camera(world)
    rel = scaled_to_stature(joints - joints[:, :1], TYPICAL_STATURE_M)
    fx, fy, cx, cy = cam.intrinsics[:4]
    placed = rel + joints[:, :1]
    pixels = placed[..., :2] / placed[..., 2:] * [fx, fy] + [cx, cy]
    model = 1.2 * placed[:, 0] + np.random.default_rng(0).normal(0, 0.05, placed[:, 0].shape)
    out = world_motion(rel, pixels, np.array([fx, fy, cx, cy]), 50.0, model_root=model)
    assert out["stature_m"] == pytest.approx(1.2 * TYPICAL_STATURE_M, rel=0.02)
    # The model's jitter is gone: the root is the exact fit, scaled (up to the 0.3 s average).
    assert np.abs(out["root_cam"] - 1.2 * placed[:, 0]).mean() < 0.02
