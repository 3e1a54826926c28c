"""Recomputed LayerNorm / GELU outputs: not kept for backward, same values and gradients, and the
block wires it in where :func:`recompute.applies`."""
import gc
import weakref

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


def _kept_outputs(modules, fn):
    """Runs ``fn`` (a forward) and says which of ``modules``' outputs autograd still holds."""
    refs = []
    handles = [m.register_forward_hook(lambda m, a, out: refs.append(weakref.ref(out))) for m in modules]
    try:
        out = fn()
    finally:
        for handle in handles:
            handle.remove()
    gc.collect()
    return out, [ref() is not None for ref in refs]


def _mlp_modules(dim=8, hidden=24):
    torch.manual_seed(0)
    norm, fc1, act, fc2 = nn.LayerNorm(dim, eps=1e-6), nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, dim)
    with torch.no_grad():
        norm.weight.normal_(), norm.bias.normal_()
    return norm, fc1, act, fc2


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("shape", [(5, 17, 8), (3, 27, 8), (40, 8)])
def test_recomputed_outputs_give_identical_values_and_gradients(shape, dtype):
    norm, fc1, act, fc2 = (m.to(dtype) for m in _mlp_modules())
    x = torch.randn(*shape, dtype=dtype, requires_grad=True)
    params = [p for m in (norm, fc1, fc2) for p in m.parameters()]

    def forward(enabled):
        with recompute.recomputed_outputs((norm, act), enabled=enabled):
            return fc2(act(fc1(norm(x))))

    lean, lean_grads = _grads(lambda: forward(True), [x], params)
    plain, plain_grads = _grads(lambda: forward(False), [x], params)
    assert torch.equal(lean, plain)
    for a, b in zip(lean_grads, plain_grads):
        assert torch.equal(a, b)


def test_recomputed_outputs_are_not_kept_for_backward():
    norm, fc1, act, fc2 = _mlp_modules()
    x = torch.randn(6, 17, 8, requires_grad=True)
    for enabled, kept in ((False, [True, True]), (True, [False, False])):
        def forward():
            with recompute.recomputed_outputs((norm, act), enabled=enabled):
                return fc2(act(fc1(norm(x))))
        out, alive = _kept_outputs((norm, act), forward)
        assert alive == kept
        out.sum().backward()  # and backward still works on the recomputed tensors


def test_modifying_a_recomputed_modules_input_in_place_is_an_error():
    norm, fc1, _, _ = _mlp_modules()
    x = torch.randn(4, 8, requires_grad=True)
    h = x * 2
    with recompute.recomputed_outputs((norm,)):
        out = fc1(norm(h))
    with torch.no_grad():
        h.add_(1)
    with pytest.raises(RuntimeError, match="modified in place"):
        out.sum().backward()


def _big_input(dim=32, tokens=17):
    """A block input just over MIN_ELEMENTS, where the block recomputes."""
    batch = -(-recompute.MIN_ELEMENTS // (tokens * dim))
    return torch.randn(batch, tokens, dim, requires_grad=True)


@pytest.mark.parametrize("attention", ["star", "vanilla"])
def test_block_recomputes_at_large_activations_with_identical_results(attention):
    torch.manual_seed(2)
    block = Block(32, num_heads=4, attention=attention, seq_len=17)
    with torch.no_grad():
        for p in block.parameters():
            p.normal_(0, 0.2)
    x = _big_input()
    assert recompute.applies(x)
    params = list(block.parameters())
    results, kept = [], []
    for enabled in (True, False):
        block.recompute = enabled
        _, alive = _kept_outputs((block.norm1, block.norm2, block.mlp.act), lambda: block(x))
        kept.append(alive)
        results.append(_grads(lambda: block(x), [x], params))
    assert kept == [[False] * 3, [True] * 3]
    (out_r, grads_r), (out_p, grads_p) = results
    assert torch.equal(out_r, out_p)
    for a, b in zip(grads_r, grads_p):
        assert torch.equal(a, b)


def test_recomputation_applies_only_to_large_full_precision_activations():
    x = torch.empty(recompute.MIN_ELEMENTS)
    assert recompute.applies(x) and recompute.applies(x.double())
    assert not recompute.applies(x[:-1])
    assert not recompute.applies(x.half())
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert not recompute.applies(x)
    small = torch.randn(2, 17, 32)
    block = Block(32, num_heads=4, attention="vanilla")
    _, alive = _kept_outputs((block.norm1,), lambda: block(small))
    assert alive == [True]  # below MIN_ELEMENTS the block keeps its LayerNorm outputs
