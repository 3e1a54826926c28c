"""Horizontal flipping of 2D and 3D poses."""
import numpy as np
import pytest
import torch

from starpose.data.flip import flip_pose
from starpose.data.skeleton import H36M_17


@pytest.mark.parametrize("channels", [2, 3])
def test_flip_twice_is_identity_numpy_and_torch(channels):
    x = np.random.default_rng(0).normal(size=(3, 5, 17, channels)).astype(np.float32)
    np.testing.assert_array_equal(flip_pose(flip_pose(x)), x)
    t = torch.from_numpy(x.copy())
    np.testing.assert_array_equal(flip_pose(flip_pose(t)).numpy(), x)
    np.testing.assert_array_equal(flip_pose(t).numpy(), flip_pose(x))


def test_flip_negates_x_and_swaps_sides():
    x = np.random.default_rng(1).normal(size=(17, 3))
    original = x.copy()
    y = flip_pose(x)
    np.testing.assert_array_equal(x, original)  # input untouched
    for left, right in zip(H36M_17.joints_left, H36M_17.joints_right):
        np.testing.assert_array_equal(y[left], original[right] * [-1, 1, 1])
        np.testing.assert_array_equal(y[right], original[left] * [-1, 1, 1])
    for centre in (0, 7, 8, 9, 10):
        np.testing.assert_array_equal(y[centre], original[centre] * [-1, 1, 1])
    with pytest.raises(ValueError):
        flip_pose(np.zeros((16, 2)))
