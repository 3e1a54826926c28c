"""Pose metrics against hand-computed values, numpy and torch alike."""
import math

import numpy as np
import pytest
import torch

from starpose.metrics import (
    acceleration_error,
    frames_needed,
    mean_acceleration,
    mean_velocity_error,
    mpjpe,
    n_mpjpe,
    p_mpjpe,
    per_joint_error,
    procrustes_align,
    weighted_mpjpe,
)


def _rotation(axis, angle):
    """Rodrigues' rotation matrix about ``axis`` by ``angle`` radians."""
    k = np.asarray(axis, float) / np.linalg.norm(axis)
    kx = np.array([[0, -k[2], k[1]], [k[2], 0, -k[0]], [-k[1], k[0], 0]])
    return np.eye(3) + math.sin(angle) * kx + (1 - math.cos(angle)) * kx @ kx


def _umeyama_error(pred, target):
    """Independent reference: Umeyama's similarity fit of one (J, 3) pose, then MPJPE."""
    mp, mt = pred.mean(0), target.mean(0)
    p, t = pred - mp, target - mt
    cov = t.T @ p / len(p)
    u, d, vt = np.linalg.svd(cov)
    s = np.eye(3)
    s[2, 2] = np.sign(np.linalg.det(u) * np.linalg.det(vt))
    rot = u @ s @ vt  # maps centred pred onto centred target: t ~ c * rot @ p
    scale = np.trace(np.diag(d) @ s) / (p**2).sum(1).mean()
    aligned = scale * p @ rot.T + mt
    return np.linalg.norm(aligned - target, axis=1).mean()


@pytest.fixture
def poses():
    return np.random.default_rng(0).normal(size=(5, 17, 3))


def test_mpjpe_known_offset(poses):
    shifted = poses + np.array([3.0, 4.0, 0.0])  # every joint 5 away
    assert mpjpe(shifted, poses) == pytest.approx(5.0)
    assert isinstance(mpjpe(shifted, poses), float)
    per_frame = mpjpe(shifted, poses, reduce=False)
    assert per_frame.shape == (5,)
    np.testing.assert_allclose(per_frame, 5.0)


def test_mpjpe_mixed_leading_dims():
    pred = np.zeros((2, 3, 4, 3))
    target = np.zeros((2, 3, 4, 3))
    target[0, 0, 0] = [0, 0, 2]  # one joint of 24 off by 2
    assert mpjpe(pred, target) == pytest.approx(2 / 24)
    assert mpjpe(pred, target, reduce=False).shape == (2, 3)


def test_weighted_mpjpe_hand_computed():
    pred = np.zeros((1, 2, 3))
    target = np.array([[[1.0, 0, 0], [0, 2.0, 0]]])
    assert weighted_mpjpe(pred, target, [3.0, 0.5]) == pytest.approx((3 * 1 + 0.5 * 2) / 2)
    assert weighted_mpjpe(pred, target, [1.0, 1.0]) == pytest.approx(mpjpe(pred, target))


def test_p_mpjpe_removes_similarity_transform(poses):
    rot = _rotation([1, 2, 3], 0.7)
    moved = 2.5 * poses @ rot.T + np.array([0.3, -1.0, 4.0])
    assert p_mpjpe(moved, poses) == pytest.approx(0.0, abs=1e-10)
    assert p_mpjpe(poses, moved) == pytest.approx(0.0, abs=1e-10)
    assert mpjpe(moved, poses) > 1.0


def test_p_mpjpe_matches_umeyama_reference(poses):
    pred = poses + np.random.default_rng(1).normal(scale=0.3, size=poses.shape)
    expected = [_umeyama_error(p, t) for p, t in zip(pred, poses)]
    np.testing.assert_allclose(p_mpjpe(pred, poses, reduce=False), expected, rtol=1e-9)
    assert p_mpjpe(pred, poses) == pytest.approx(np.mean(expected))


def test_p_mpjpe_does_not_reflect(poses):
    mirrored = poses * np.array([-1.0, 1.0, 1.0])  # a mirror image: no rotation undoes it
    err = p_mpjpe(mirrored, poses, reduce=False)
    expected = [_umeyama_error(p, t) for p, t in zip(mirrored, poses)]
    np.testing.assert_allclose(err, expected, rtol=1e-9)
    assert (err > 0.1).all()


def test_p_mpjpe_planar_mirror_is_a_rotation():
    # Mirroring a flat pose within its plane equals a half turn out of the plane: error 0.
    flat = np.random.default_rng(2).normal(size=(17, 3)) * np.array([1.0, 1.0, 0.0])
    assert p_mpjpe(flat * np.array([-1.0, 1.0, 1.0]), flat) == pytest.approx(0.0, abs=1e-9)


def test_n_mpjpe_removes_scale(poses):
    assert n_mpjpe(0.4 * poses, poses) == pytest.approx(0.0, abs=1e-12)
    # Hand-computed: pred = (1, 0, 0), target = (2, 1, 0) -> s = 2, error = 1.
    assert n_mpjpe(np.array([[1.0, 0, 0]]), np.array([[2.0, 1, 0]])) == pytest.approx(1.0)


def test_velocity_error_hand_made():
    target = np.zeros((4, 1, 3))
    pred = np.zeros((4, 1, 3))
    pred[:, 0, 0] = [0, 1, 3, 6]  # velocities 1, 2, 3 against 0
    assert mean_velocity_error(pred, target) == pytest.approx(2.0)
    np.testing.assert_allclose(mean_velocity_error(pred, target, reduce=False), [1, 2, 3])
    # Accelerations 1, 1: constant velocity offsets do not count.
    assert acceleration_error(pred, target) == pytest.approx(1.0)
    assert acceleration_error(pred + np.arange(4)[:, None, None], pred) == pytest.approx(0.0)


def test_velocity_error_axis():
    pred = np.zeros((2, 5, 1, 3))
    pred[:, :, 0, 1] = np.array([0, 2, 4, 6, 8])  # time on axis 1, speed 2
    target = np.zeros_like(pred)
    assert mean_velocity_error(pred, target, axis=1) == pytest.approx(2.0)
    assert mean_velocity_error(pred, target, axis=0) == pytest.approx(0.0)
    assert acceleration_error(pred, target, axis=1) == pytest.approx(0.0)
    with pytest.raises(ValueError):
        mean_velocity_error(pred, target, axis=2)  # the joint axis is not time


def test_mean_acceleration_jitter():
    smooth = np.zeros((6, 2, 3))
    smooth[:, :, 2] = np.arange(6)[:, None]  # constant velocity: no acceleration
    assert mean_acceleration(smooth) == pytest.approx(0.0)
    jitter = smooth.copy()
    jitter[::2, :, 0] += 0.5  # alternating +-0.5: second difference of norm 1 every frame
    assert mean_acceleration(jitter) == pytest.approx(1.0)


@pytest.mark.parametrize("metric", [mpjpe, p_mpjpe, n_mpjpe, mean_velocity_error, acceleration_error])
def test_numpy_and_torch_agree(metric, poses):
    pred = poses + np.random.default_rng(3).normal(scale=0.2, size=poses.shape)
    expected = metric(pred, poses)
    got = metric(torch.from_numpy(pred), torch.from_numpy(poses))
    assert isinstance(got, torch.Tensor) and got.ndim == 0 and got.dtype == torch.float64
    assert got.item() == pytest.approx(expected, rel=1e-9)
    got32 = metric(torch.from_numpy(pred).float(), torch.from_numpy(poses).float())
    assert got32.dtype == torch.float32
    assert got32.item() == pytest.approx(expected, rel=1e-4)
    per_pose = metric(torch.from_numpy(pred), torch.from_numpy(poses), reduce=False)
    np.testing.assert_allclose(per_pose.numpy(), metric(pred, poses, reduce=False), rtol=1e-9)


def test_torch_weighted_and_jitter_agree(poses):
    w = np.linspace(0.5, 2, 17)
    assert weighted_mpjpe(torch.tensor(poses), torch.zeros(5, 17, 3, dtype=torch.float64), torch.tensor(w)).item() \
        == pytest.approx(weighted_mpjpe(poses, np.zeros_like(poses), w))
    assert mean_acceleration(torch.tensor(poses)).item() == pytest.approx(mean_acceleration(poses))


def test_torch_mpjpe_has_gradient(poses):
    pred = torch.tensor(poses, requires_grad=True)
    mpjpe(pred, torch.zeros_like(pred)).backward()
    assert pred.grad is not None and torch.isfinite(pred.grad).all()


def test_shape_errors(poses):
    with pytest.raises(ValueError, match="shapes differ"):
        mpjpe(poses, poses[:, :16])
    with pytest.raises(ValueError, match=r"\(\.\.\., J, 3\)"):
        mpjpe(poses[..., :2], poses[..., :2])
    with pytest.raises(ValueError, match="joint weights"):
        weighted_mpjpe(poses, poses, [1.0] * 3)
    with pytest.raises(ValueError, match="at least 3 frames"):
        acceleration_error(poses[:2], poses[:2])


@pytest.mark.parametrize("metric, needed", [(mpjpe, 1), (p_mpjpe, 1), (mean_velocity_error, 2),
                                            (acceleration_error, 3), (mean_acceleration, 3)])
def test_frames_needed(metric, needed):
    poses = np.random.default_rng(0).normal(size=(needed, 17, 3))
    args = (poses,) if metric is mean_acceleration else (poses, poses + 0.1)
    assert frames_needed(metric) == needed
    assert np.isfinite(metric(*args))
    if needed > 1:
        with pytest.raises(ValueError, match=f"at least {needed} frames"):
            metric(*(a[:-1] for a in args))


def test_procrustes_align_same_on_numpy_and_torch(poses):
    rot = _rotation([1, 2, 3], 2.0)
    target = 1.7 * poses @ rot.T + 0.3
    target[:, 0] += 0.05  # not an exact similarity: the fit leaves a residual
    aligned = procrustes_align(poses, target)
    np.testing.assert_allclose(procrustes_align(torch.from_numpy(poses), torch.from_numpy(target)).numpy(),
                               aligned, rtol=0, atol=1e-12)
    for k in range(len(poses)):
        assert np.linalg.norm(aligned[k] - target[k], axis=-1).mean() == pytest.approx(
            _umeyama_error(poses[k], target[k]), rel=1e-9)


def test_procrustes_align_excludes_reflections(poses):
    mirrored = poses * np.array([-1.0, 1.0, 1.0])  # no rotation maps a pose onto its mirror image
    aligned = procrustes_align(poses, mirrored)
    assert np.linalg.norm(aligned - mirrored, axis=-1).mean() > 0.1
    for k in range(len(poses)):
        assert p_mpjpe(poses[k], mirrored[k]) == pytest.approx(_umeyama_error(poses[k], mirrored[k]), rel=1e-9)


def test_per_joint_error(poses):
    target = poses.copy()
    target[..., 3, :] += [0.0, 3.0, 4.0]  # joint 3 off by 5 in every pose
    target[2, 7, 0] += 10.0  # joint 7 off by 10 in one pose of 5
    expected = np.zeros(17)
    expected[3], expected[7] = 5.0, 2.0
    np.testing.assert_allclose(per_joint_error(poses, target), expected, atol=1e-12)
    windows = per_joint_error(torch.from_numpy(poses).float()[None], torch.from_numpy(target).float()[None])
    assert windows.shape == (17,) and windows.dtype == torch.float32
    np.testing.assert_allclose(windows.numpy(), expected, atol=1e-5)
    assert per_joint_error(poses, target).mean() == pytest.approx(mpjpe(poses, target))
    with pytest.raises(ValueError, match="shapes differ"):
        per_joint_error(poses, target[:, :16])
