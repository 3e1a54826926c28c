"""PCK and AUC as the MPI-INF-3DHP evaluation counts them, against hand-computed cases."""
import numpy as np
import pytest
import torch

from starpose import metrics
from starpose.datasets.mpi_inf_3dhp.layout import PCK_JOINT_GROUPS


def _poses_with_errors(errors):
    """A target of zeros and a prediction whose joint j is ``errors[..., j]`` away along x."""
    errors = np.asarray(errors, float)
    target = np.zeros(errors.shape + (3,))
    pred = target.copy()
    pred[..., 0] = errors
    return pred, target


def test_pck_counts_strictly_below_the_threshold():
    pred, target = _poses_with_errors([[100.0, 149.9, 150.0, 200.0]])
    assert metrics.pck(pred, target) == pytest.approx(50.0)
    assert metrics.pck(pred, target, threshold=150.1) == pytest.approx(75.0)


def test_pck_joint_subset_and_group_weighted_total():
    pred, target = _poses_with_errors([[200.0, 100.0, 100.0, 200.0]])
    assert metrics.pck(pred, target, joints=[1, 2]) == pytest.approx(100.0)
    # Group a: 0 %; group b: 2 of 3 = 66.67 %; total weighted by joint counts: (0 + 3 * 66.67) / 4.
    assert metrics.pck(pred, target, joints={"a": [0], "b": [1, 2, 3]}) == pytest.approx(50.0)


def test_group_weighted_total_equals_pooled_pairs_on_the_3dhp_groups():
    rng = np.random.default_rng(0)
    pred, target = _poses_with_errors(rng.uniform(0, 300, (50, 17)))
    fourteen = [j for g in PCK_JOINT_GROUPS.values() for j in g]
    assert sorted(fourteen) == list(range(14))
    errors = np.linalg.norm(pred - target, axis=-1)[:, fourteen]
    assert metrics.pck(pred, target, joints=PCK_JOINT_GROUPS) == pytest.approx(
        100 * np.mean(errors < 150))


def test_auc_is_the_mean_pck_over_thresholds():
    pred, target = _poses_with_errors([[50.0, 150.0]])
    assert metrics.auc(pred, target, thresholds=(0, 100, 200)) == pytest.approx(50.0)
    # Zero error: every threshold but 0 counts all joints (strictly below 0 counts none).
    zero = np.zeros((3, 17, 3))
    assert metrics.auc(zero, zero) == pytest.approx(100 * 30 / 31)
    assert len(metrics.AUC_THRESHOLDS) == 31 and metrics.AUC_THRESHOLDS[-1] == 150


def test_torch_matches_numpy():
    rng = np.random.default_rng(1)
    pred, target = _poses_with_errors(rng.uniform(0, 300, (4, 9, 17)))
    for fn in (metrics.pck, metrics.auc):
        expected = fn(pred, target, joints=PCK_JOINT_GROUPS)
        got = fn(torch.from_numpy(pred), torch.from_numpy(target), joints=PCK_JOINT_GROUPS)
        assert isinstance(got, torch.Tensor) and got.ndim == 0
        assert float(got) == pytest.approx(expected)


def test_bad_arguments_are_programmer_errors():
    pred, target = _poses_with_errors([[1.0, 2.0]])
    with pytest.raises(ValueError):
        metrics.pck(pred, target[..., :1, :])
    with pytest.raises(ValueError):
        metrics.pck(pred, target, joints=[5])
    with pytest.raises(ValueError):
        metrics.auc(pred, target, thresholds=())
