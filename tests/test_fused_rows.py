"""The compiled row-wise passes (``models/kernels/fused_rows``): LayerNorm (also regrouped),
the residual passes and bias + GELU against torch's ops with their gradients, on every code path
the CPU can run, and where the model takes them."""
import pytest
import torch

from starpose.models.kernels import fused_cpu, fused_rows

needs_kernel = pytest.mark.skipif(not fused_cpu.available(), reason=f"fused CPU kernel: {fused_cpu.UNAVAILABLE}")


def _rel(a, b):
    return ((a - b).abs().max() / b.abs().max()).item()


@needs_kernel
@pytest.mark.parametrize("kind", ["layer_norm", "bias_gelu"])
def test_gradients_are_the_same_bits_for_the_same_thread_count(kind):
    """The input gradient is computed row by row (the same at any thread count); the parameter
    gradients are summed per thread and then in thread order (the same at the same count)."""
    g = torch.Generator().manual_seed(4)
    C = 64 if kind == "layer_norm" else 128
    x = torch.randn(4096, C, generator=g).requires_grad_()
    params = [torch.randn(C, generator=g).requires_grad_() for _ in range(2 if kind == "layer_norm" else 1)]
    grad_out = torch.randn(4096, C, generator=g)
    run = ((lambda: fused_rows.layer_norm(x, *params, 1e-6)) if kind == "layer_norm"
           else (lambda: fused_rows.bias_gelu(x, *params)))

    def grads():
        for t in (x, *params):
            t.grad = None
        run().backward(grad_out)
        return [t.grad.clone() for t in (x, *params)]

    before = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        first, again = grads(), grads()
        torch.set_num_threads(1)
        one = grads()
    finally:
        torch.set_num_threads(before)
    assert all(torch.equal(a, b) for a, b in zip(first, again))
    assert torch.equal(first[0], one[0])
    assert all(_rel(a, b) < 1e-5 for a, b in zip(first[1:], one[1:]))


@needs_kernel
@pytest.mark.parametrize("C", [128, 64, 16, 40, 7])  # whole vectors and a scalar tail
def test_layer_norm_and_its_gradients_equal_torch_and_it_steps_aside_where_it_does_not_cover(C):
    g = torch.Generator().manual_seed(C)
    x = torch.randn(301, C, generator=g) * 5 + 3  # a mean far from 0: the two-pass variance
    w, b = torch.randn(C, generator=g), torch.randn(C, generator=g)
    grad_out = torch.randn(301, C, generator=g)

    def run(fn):
        leaves = [t.clone().requires_grad_() for t in (x, w, b)]
        out = fn(*leaves, 1e-6)
        out.backward(grad_out)
        return out.detach(), [t.grad for t in leaves]

    expected, expected_grads = run(lambda x, w, b, eps: torch.nn.functional.layer_norm(x, (C,), w, b, eps))
    for isa in ("AVX-512", "AVX2", "baseline"):
        with fused_cpu.isa_at_most(isa):
            with torch.no_grad():
                out = fused_rows.layer_norm(x, w, b, 1e-6)
            trained, grads = run(fused_rows.layer_norm)
        assert out.shape == x.shape and _rel(out, expected) < 1e-6
        assert torch.equal(trained, out)  # training and inference: the same bits (recompute relies on it)
        assert all(_rel(a, e) < 1e-5 for a, e in zip(grads, expected_grads))  # dx, dw, db
    assert fused_rows.layer_norm(x.double(), w, b, 1e-6) is None
    assert fused_rows.layer_norm(x[::2], w, b, 1e-6) is None  # not contiguous
    assert fused_rows.layer_norm(x, None, None, 1e-6) is None  # no affine parameters
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert fused_rows.layer_norm(x, w, b, 1e-6) is None


@needs_kernel
@pytest.mark.parametrize("C", [128, 64, 40, 7])  # whole vectors and a scalar tail
def test_bias_gelu_and_its_gradients_equal_torch_on_every_code_path(C):
    g = torch.Generator().manual_seed(C)
    h = torch.randn(257, C, generator=g) * 4  # |h + b| up to ~20: both tails of the normal CDF
    h[0, :] = torch.linspace(-30, 30, C)
    bias = torch.randn(C, generator=g)
    grad_out = torch.randn(257, C, generator=g)

    def run(fn):
        leaves = [h.clone().requires_grad_(), bias.clone().requires_grad_()]
        out = fn(*leaves)
        out.backward(grad_out)
        return out.detach(), [t.grad for t in leaves]

    expected, expected_grads = run(lambda h, b: torch.nn.functional.gelu(h + b))
    for isa in ("AVX-512", "AVX2", "baseline"):
        with fused_cpu.isa_at_most(isa):
            out, grads = run(fused_rows.bias_gelu)
            with torch.no_grad():
                assert torch.equal(fused_rows.bias_gelu(h, bias), out)
        assert (out - expected).abs().max() <= 1e-6 * expected.abs().max()
        assert all((a - e).abs().max() <= 2e-6 * e.abs().max() for a, e in zip(grads, expected_grads))
    with pytest.raises(ValueError, match="GELU"):
        fused_rows.bias_gelu(h.double(), bias.double())


@needs_kernel
def test_the_mlp_adds_its_first_bias_in_the_gelu_kernel_except_as_published_or_when_recomputing(monkeypatch):
    from starpose.models.blocks import Mlp

    torch.manual_seed(0)
    mlp = Mlp(16, 32)
    x = torch.randn(5, 7, 16, requires_grad=True)
    calls = []
    original = fused_rows.bias_gelu
    monkeypatch.setattr(fused_rows, "bias_gelu", lambda *a: calls.append(1) or original(*a))
    results = {}
    for kernel, fuse in (("auto", True), ("reference", True), ("auto", False)):
        mlp.kernel = kernel
        for p in [x, *mlp.parameters()]:
            p.grad = None
        out = mlp(x, fuse=fuse)
        out.square().sum().backward()
        results[kernel, fuse] = [out.detach(), x.grad.clone()] + [p.grad.clone() for p in mlp.parameters()]
    assert calls == [1]  # auto only; the published computation and recomputation keep nn.GELU
    for a, b in zip(results["auto", True], results["reference", True]):
        assert _rel(a, b) < 1e-5


@needs_kernel
@pytest.mark.parametrize("isa", ["AVX-512", "AVX2", "baseline"])
def test_layer_norm_writes_the_tokens_regrouped_for_the_next_block(isa):
    """MixSTE's regrouping between a spatial and a temporal block, (B*F, J, C) -> (B*J, F, C),
    done by the LayerNorm's write (and by its backward's read): the published LayerNorm then
    the transpose copy, output and gradients."""
    from starpose.models.blocks import LayerNorm

    B, F_, J, C = 3, 5, 7, 16
    g = torch.Generator().manual_seed(9)
    norm = LayerNorm(C, eps=1e-6)
    with torch.no_grad():
        norm.weight.normal_(generator=g)
        norm.bias.normal_(generator=g)
    x = torch.randn(B * F_, J, C, generator=g).requires_grad_()
    grad_out = torch.randn(B * J, F_, C, generator=g)
    results = {}
    for kernel in ("auto", "reference"):
        norm.kernel = kernel
        for t in (x, norm.weight, norm.bias):
            t.grad = None
        with fused_cpu.isa_at_most(isa):
            out = norm(x, regroup=(F_, J))
            out.backward(grad_out)
        results[kernel] = [out.detach(), x.grad.clone(), norm.weight.grad.clone(), norm.bias.grad.clone()]
    assert results["auto"][0].shape == (B * J, F_, C)
    expected = torch.nn.functional.layer_norm(x.detach(), (C,), norm.weight.detach(), norm.bias.detach(), 1e-6)
    assert torch.equal(results["reference"][0], expected.view(B, F_, J, C).transpose(1, 2).reshape(B * J, F_, C))
    for a, b in zip(results["auto"], results["reference"]):
        assert _rel(a, b) < 1e-5
    # and back: (B*J, F, C) -> (B*F, J, C)
    back = norm(results["auto"][0], regroup=(J, F_))
    assert back.shape == (B * F_, J, C)
    assert fused_rows.layer_norm(x.detach(), norm.weight, norm.bias, 1e-6, (4, J)) is None  # rows not (A, 4, J)


@needs_kernel
@pytest.mark.parametrize("isa", ["AVX-512", "AVX2", "baseline"])
@pytest.mark.parametrize("C", [64, 40])  # whole vectors and a scalar tail
def test_the_residual_passes_equal_torch_with_their_gradients(isa, C):
    g = torch.Generator().manual_seed(C)
    x, y = torch.randn(211, C, generator=g), torch.randn(211, C, generator=g)
    bias, w, b = (torch.randn(C, generator=g) for _ in range(3))
    grad_s, grad_n, grad_t = (torch.randn(211, C, generator=g) for _ in range(3))

    def run(add_norm, add_bias):
        leaves = [t.clone().requires_grad_() for t in (x, y, bias, w, b)]
        x_, y_, bias_, w_, b_ = leaves
        s, n = add_norm(x_, y_, bias_, w_, b_)
        t = add_bias(s, n, bias_)  # a second residual on top, as in a block
        torch.autograd.backward([s, n, t], [grad_s, grad_n, grad_t])
        return [s.detach(), n.detach(), t.detach()] + [leaf.grad for leaf in leaves]

    def torch_add_norm(x, y, bias, w, b):
        s = x + y + bias
        return s, torch.nn.functional.layer_norm(s, (C,), w, b, 1e-6)

    expected = run(torch_add_norm, lambda x, y, bias: x + y + bias)
    with fused_cpu.isa_at_most(isa):
        got = run(lambda *a: fused_rows.add_norm(*a, 1e-6), fused_rows.add_bias)
    for a, e in zip(got, expected):
        assert _rel(a, e) < 1e-5
    with pytest.raises(ValueError, match="residual"):
        fused_rows.add_bias(x, y.double(), bias)


@needs_kernel
@pytest.mark.parametrize("attention", ["star", "vanilla"])
def test_a_block_with_compiled_residuals_equals_the_published_computation(attention, monkeypatch):
    """Block outputs, input and parameter gradients: ``auto`` (compiled LayerNorm, attention,
    bias + GELU, residual passes) against ``reference`` (torch's ops as published), and the
    compiled residual passes run only where no branch dropout is active."""
    from starpose.models.blocks import Block

    torch.manual_seed(4)
    block = Block(64, num_heads=4, attention=attention, seq_len=17, drop_path=0.0)
    with torch.no_grad():
        for p in block.parameters():
            p.normal_(0, 0.2)
    x = torch.randn(6, 17, 64, requires_grad=True)
    calls = []
    original = fused_rows.add_norm
    monkeypatch.setattr(fused_rows, "add_norm", lambda *a: calls.append(1) or original(*a))
    results = {}
    for kernel in ("auto", "reference"):
        for m in block.modules():
            if hasattr(m, "kernel"):
                m.kernel = kernel
        for p in [x, *block.parameters()]:
            p.grad = None
        out = block(x)
        out.square().sum().backward()
        results[kernel] = [out.detach(), x.grad.clone()] + [p.grad.clone() for p in block.parameters()]
    assert calls == [1]
    for a, b in zip(results["auto"], results["reference"]):
        assert _rel(a, b) < 1e-5
    for m in block.modules():
        if hasattr(m, "kernel"):
            m.kernel = "auto"
    block.drop_path.p = 0.1
    block(x)  # training with stochastic depth: the torch path
    assert calls == [1]
    block.eval()
    block(x)  # evaluation: dropout off, the compiled passes again
    assert calls == [1, 1]
