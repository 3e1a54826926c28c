"""The numpy/torch dispatch helpers answer in the kind, dtype and device of their reference."""
import numpy as np
import pytest
import torch

from starpose import arrays as A


def test_like_and_coerce_follow_the_reference():
    assert A.like([1, 2], np.zeros(2, np.float32)).dtype == np.float32
    assert A.like([1, 2], np.zeros(2, np.int64)).dtype == np.float64
    t = A.like([1, 2], torch.zeros(2, dtype=torch.float16))
    assert isinstance(t, torch.Tensor) and t.dtype == torch.float16
    first, other = A.coerce(torch.arange(3), [1, 2, 3])
    assert first.dtype == other.dtype == torch.float64
    first, other = A.coerce(np.arange(3, dtype=np.float32), torch.ones(3))
    assert isinstance(other, np.ndarray) and first.dtype == other.dtype == np.float64


@pytest.mark.parametrize("op", [
    lambda x: A.norm(x), lambda x: A.cross(x, x[:1] * 2 + 1), lambda x: A.concat([x, 2 * x]),
    lambda x: A.clip(x, -0.5, 0.5), lambda x: A.diff(x, 2, 0), lambda x: A.sum_keep(x, (-2, -1)),
    lambda x: A.mean_keep(x, -2), lambda x: A.transpose(x), lambda x: A.det(x), lambda x: A.svd(x)[1],
])
def test_numpy_and_torch_give_the_same_numbers(op):
    x = np.random.default_rng(0).normal(size=(4, 3, 3))
    expected = op(x)
    got = op(torch.from_numpy(x))
    assert isinstance(got, torch.Tensor) and got.shape == expected.shape
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-12, atol=1e-12)
