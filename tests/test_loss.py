"""The MixSTE loss terms on tiny hand-made tensors."""
import pytest
import torch

from starpose.datasets.h36m.layout import H36M_JOINT_WEIGHTS
from starpose.train.loss import (
    LossTerms,
    mixste_loss,
    mpjve,
    temporal_consistency,
    weighted_mpjpe_loss,
)


@pytest.fixture
def tiny():
    """B=1, F=3, J=2: joint 0 moves along x by 0, 1, 3; joint 1 is off by (0, 2, 0) everywhere."""
    pred = torch.zeros(1, 3, 2, 3)
    pred[0, :, 0, 0] = torch.tensor([0.0, 1.0, 3.0])
    pred[0, :, 1, 1] = 2.0
    target = torch.zeros(1, 3, 2, 3)
    return pred, target, (1.0, 4.0)


def test_weights_are_mixste_weights():
    assert H36M_JOINT_WEIGHTS == (1, 1, 2.5, 2.5, 1, 2.5, 2.5, 1, 1, 1, 1.5, 1.5, 4, 4, 1.5, 4, 4)


def test_weighted_mpjpe_exact(tiny):
    pred, target, w = tiny
    # distances: joint 0 -> 0, 1, 3 (weight 1); joint 1 -> 2, 2, 2 (weight 4); mean of 6 terms.
    expected = (0 + 1 + 3 + 3 * 4 * 2) / 6
    assert weighted_mpjpe_loss(pred, target, w).item() == pytest.approx(expected)


def test_temporal_consistency_exact(tiny):
    pred, _, w = tiny
    # squared motion: joint 0 x: 1, 4 (weight 1); joint 1 static; mean over 2*2*3 = 12 entries.
    assert temporal_consistency(pred, w).item() == pytest.approx((1 + 4) / 12)
    assert temporal_consistency(pred, (1.0, 1.0)).item() == pytest.approx(5 / 12)


def test_mpjve_exact(tiny):
    pred, target, _ = tiny
    # velocity errors: joint 0 -> 1, 2; joint 1 -> 0, 0; mean of 4.
    assert mpjve(pred, target).item() == pytest.approx(3 / 4)


def test_mixste_loss_total(tiny):
    pred, target, w = tiny
    terms = mixste_loss(pred, target, weights=w)
    assert isinstance(terms, LossTerms)
    assert terms.total.ndim == 0
    expected = 28 / 6 + 0.5 * 5 / 12 + 2.0 * 3 / 4
    assert terms.total.item() == pytest.approx(expected)
    assert terms.as_floats() == pytest.approx(
        {"total": expected, "wmpjpe": 28 / 6, "tc": 5 / 12, "mpjve": 0.75}
    )
    custom = mixste_loss(pred, target, weights=w, tc_weight=0.0, velocity_weight=1.0)
    assert custom.total.item() == pytest.approx(28 / 6 + 0.75)


def test_mixste_loss_gradient_flows():
    torch.manual_seed(0)
    pred = torch.randn(2, 5, 17, 3, requires_grad=True)
    target = torch.randn(2, 5, 17, 3)
    mixste_loss(pred, target).total.backward()
    assert pred.grad is not None and torch.isfinite(pred.grad).all() and pred.grad.abs().sum() > 0


def test_perfect_prediction_of_static_pose_is_zero():
    target = torch.randn(2, 4, 17, 3)[:, :1].expand(2, 4, 17, 3)
    assert mixste_loss(target.clone(), target).total.item() == pytest.approx(0.0, abs=1e-7)


def test_single_frame_has_no_temporal_terms():
    pred = torch.ones(2, 1, 17, 3, requires_grad=True)
    terms = mixste_loss(pred, torch.zeros(2, 1, 17, 3))
    assert terms.tc.item() == 0 and terms.mpjve.item() == 0
    terms.total.backward()
    assert torch.isfinite(pred.grad).all()


def test_bad_shapes():
    with pytest.raises(ValueError, match=r"\(B, F, J, 3\)"):
        mixste_loss(torch.zeros(5, 17, 3), torch.zeros(5, 17, 3))
    with pytest.raises(ValueError, match="joint weights"):
        mixste_loss(torch.zeros(1, 2, 16, 3), torch.zeros(1, 2, 16, 3))
