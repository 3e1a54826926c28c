"""The memory-lean LayerNorm+Linear and GELU+Linear: same values and gradients as the plain
modules, fewer bytes saved for backward, and the whole block equal on both paths."""
import pytest
import torch
from torch import nn

from starpose.models import recompute
from starpose.models.blocks import Block


def _grads(fn, inputs, params):
    out = fn()
    out.backward(torch.linspace(-1, 1, out.numel(), dtype=out.dtype).reshape(out.shape))
    grads = [t.grad.clone() for t in inputs + params]
    for t in inputs + params:
        t.grad = None
    return out.detach(), grads


def _saved_bytes(fn):
    total = []

    def pack(t):
        total.append(t.numel() * t.element_size())
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        out = fn()
    return out, sum(total)


@pytest.mark.parametrize("shape", [(5, 17, 8), (3, 27, 8), (40, 8)])
def test_norm_linear_equals_layer_norm_then_linear(shape):
    torch.manual_seed(0)
    norm, linear = nn.LayerNorm(8, eps=1e-6).double(), nn.Linear(8, 24).double()
    with torch.no_grad():
        norm.weight.normal_(), norm.bias.normal_()
    x = torch.randn(*shape, dtype=torch.float64, requires_grad=True)
    params = list(norm.parameters()) + list(linear.parameters())
    lean, lean_grads = _grads(lambda: recompute.norm_linear(x, norm, linear), [x], params)
    plain, plain_grads = _grads(lambda: linear(norm(x)), [x], params)
    torch.testing.assert_close(lean, plain, rtol=1e-12, atol=1e-12)
    for a, b in zip(lean_grads, plain_grads):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)


def test_gelu_linear_equals_gelu_then_linear():
    torch.manual_seed(1)
    linear = nn.Linear(16, 8).double()
    h = torch.randn(4, 9, 16, dtype=torch.float64, requires_grad=True)
    params = list(linear.parameters())
    lean, lean_grads = _grads(lambda: recompute.gelu_linear(h, linear), [h], params)
    plain, plain_grads = _grads(lambda: linear(nn.functional.gelu(h)), [h], params)
    torch.testing.assert_close(lean, plain, rtol=1e-12, atol=1e-12)
    for a, b in zip(lean_grads, plain_grads):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)


def test_lean_pairs_save_less_for_backward():
    norm, fc1, fc2 = nn.LayerNorm(32), nn.Linear(32, 64), nn.Linear(64, 32)
    x = torch.randn(8, 50, 32, requires_grad=True)
    _, plain = _saved_bytes(lambda: fc2(nn.functional.gelu(fc1(norm(x)))))
    _, lean = _saved_bytes(lambda: recompute.gelu_linear(recompute.norm_linear(x, norm, fc1), fc2))
    token_bytes = 8 * 50 * 4
    # Not saved any more: the normalised input (32 per token) and the GELU output (64 per token).
    assert plain - lean >= (32 + 64) * token_bytes


@pytest.mark.parametrize("attention", ["star", "vanilla"])
def test_block_on_the_lean_path_equals_the_explicit_block(attention, monkeypatch):
    monkeypatch.setattr(recompute, "MIN_ELEMENTS", 0)
    torch.manual_seed(2)
    block = Block(32, num_heads=4, attention=attention, seq_len=17)
    with torch.no_grad():
        for p in block.parameters():
            p.normal_(0, 0.2)
    x = torch.randn(6, 17, 32, requires_grad=True)
    params = list(block.parameters())
    results = []
    for fused in (True, False):
        block.attn.fused = fused
        assert block._lean_applies(x) == fused
        results.append(_grads(lambda: block(x), [x], params))
    (out_f, grads_f), (out_e, grads_e) = results
    torch.testing.assert_close(out_f, out_e, rtol=1e-5, atol=1e-6)
    for a, b in zip(grads_f, grads_e):
        assert ((a - b).norm() / b.norm()).item() < 1e-5


def test_lean_path_is_skipped_where_it_does_not_apply(monkeypatch):
    x = torch.randn(2, 17, 32)
    assert not recompute.applies(x)  # below MIN_ELEMENTS
    monkeypatch.setattr(recompute, "MIN_ELEMENTS", 0)
    assert recompute.applies(x)
    assert not recompute.applies(x.half())
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert not recompute.applies(x)
    block = Block(32, num_heads=4, attention="vanilla", drop=0.1).train()
    assert not block._lean_applies(x)  # active MLP dropout: the plain modules
    assert block.eval()._lean_applies(x)
