"""Camera geometry: quaternions, frame changes, screen normalisation, distorted projection."""
import numpy as np
import pytest
import torch

from starpose.data.cameras import (camera_to_world, image_coordinates,
                                   normalize_screen_coordinates, project_to_2d,
                                   project_to_2d_linear, qrot, world_to_camera)
from starpose.datasets.h36m.layout import h36m_cameras
from starpose.errors import DataError


def _quat_to_matrix(q):
    w, x, y, z = q
    return np.array([[1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
                     [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
                     [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)]])


def test_qrot_matches_rotation_matrix_numpy_and_torch():
    rng = np.random.default_rng(0)
    q = rng.normal(size=4)
    q /= np.linalg.norm(q)
    v = rng.normal(size=(5, 7, 3))
    expected = v @ _quat_to_matrix(q).T
    np.testing.assert_allclose(qrot(q, v), expected, atol=1e-12)
    out = qrot(torch.tensor(q), torch.tensor(v))
    assert isinstance(out, torch.Tensor)
    np.testing.assert_allclose(out.numpy(), expected, atol=1e-12)


@pytest.mark.parametrize("subject", ["S1", "S9", "S11"])
def test_world_camera_round_trip(subject):
    rng = np.random.default_rng(1)
    X = rng.uniform(-2, 2, size=(10, 17, 3))
    for cam in h36m_cameras(subject):
        Xc = world_to_camera(X, cam.orientation, cam.translation)
        np.testing.assert_allclose(camera_to_world(Xc, cam.orientation, cam.translation), X,
                                   atol=1e-5)
        # Distances are preserved and the camera centre maps to the origin.
        np.testing.assert_allclose(np.linalg.norm(Xc[:, 1] - Xc[:, 0], axis=-1),
                                   np.linalg.norm(X[:, 1] - X[:, 0], axis=-1), atol=1e-5)
        np.testing.assert_allclose(cam.world_to_camera(cam.translation), 0, atol=1e-9)
        Xt = cam.world_to_camera(torch.tensor(X, dtype=torch.float32))
        np.testing.assert_allclose(Xt.numpy(), Xc, atol=1e-4)
        # The capture volume (around the world origin) is in front of every camera.
        assert Xc[..., 2].min() > 1.0


def test_normalize_and_image_coordinates():
    X = np.array([[0.0, 0.0], [1000.0, 1002.0], [500.0, 501.0]])
    n = normalize_screen_coordinates(X, 1000, 1002)
    np.testing.assert_allclose(n, [[-1, -1.002], [1, 1.002], [0, 0]])
    np.testing.assert_allclose(image_coordinates(n, 1000, 1002), X)
    t = normalize_screen_coordinates(torch.tensor(X, dtype=torch.float32), 1000, 1002)
    np.testing.assert_allclose(t.numpy(), n, atol=1e-6)
    np.testing.assert_allclose(image_coordinates(t, 1000, 1002).numpy(), X, atol=1e-3)


def test_projection_matches_hand_computation():
    cam = h36m_cameras("S9")[0]
    fx, fy, cx, cy, k1, k2, k3, p1, p2 = cam.intrinsics.astype(np.float64)
    X = np.array([0.3, -0.2, 4.0])
    x, y = 0.3 / 4.0, -0.2 / 4.0
    r2 = x * x + y * y
    radial = 1 + k1 * r2 + k2 * r2**2 + k3 * r2**3
    tan = p1 * x + p2 * y
    expected = [fx * (x * (radial + tan) + p1 * r2) + cx, fy * (y * (radial + tan) + p2 * r2) + cy]
    np.testing.assert_allclose(project_to_2d(X, cam.intrinsics.astype(np.float64)), expected,
                               rtol=1e-12)
    torch_out = project_to_2d(torch.tensor(X[None]), torch.tensor(cam.intrinsics[None]))
    np.testing.assert_allclose(torch_out.numpy()[0], expected, rtol=1e-6)
    # Distortion matters (pixels away from the pinhole projection) but only a little here.
    linear = project_to_2d_linear(X, cam.intrinsics)
    assert 0.05 < np.abs(linear - expected).max() < 20
    no_distortion = cam.intrinsics.copy()
    no_distortion[4:] = 0
    np.testing.assert_allclose(project_to_2d(X, no_distortion), linear, rtol=1e-6)


def test_per_sequence_camera_parameters_broadcast():
    cams = h36m_cameras("S1")
    X = np.random.default_rng(2).uniform(-0.5, 0.5, (4, 6, 17, 3)) + [0, 0, 5]
    params = np.stack([c.intrinsics for c in cams])
    batched = project_to_2d(X, params)
    for i, cam in enumerate(cams):
        np.testing.assert_allclose(batched[i], project_to_2d(X[i], cam.intrinsics), rtol=1e-6)


def test_h36m_cameras():
    cams = h36m_cameras("S11")
    assert len(cams) == 4
    assert [c.id for c in cams] == ["54138969", "55011271", "58860488", "60457274"]
    for cam in cams:
        assert 3 < np.linalg.norm(cam.translation) < 7  # metres, not millimetres
        assert cam.res_w == 1000 and cam.res_h in (1000, 1002)
        origin = cam.project(np.array([0.0, 0.0, 0.9]))
        assert 0 < origin[0] < cam.res_w and 0 < origin[1] < cam.res_h
    with pytest.raises(DataError, match="S2"):
        h36m_cameras("S2")
    with pytest.raises(DataError, match="S42"):
        h36m_cameras("S42")
