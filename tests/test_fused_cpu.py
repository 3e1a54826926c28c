"""The fused CPU attention kernel (``models/kernels/fused_cpu``): built by ``make test``'s install,
equal to the reference kernel, taken by the model's inference path where it covers the input."""
import platform
import sys

import pytest
import torch

from starpose.models import MixSTE, inference_path
from starpose.models.kernels import fused_cpu, reference

needs_kernel = pytest.mark.skipif(not fused_cpu.available(), reason=f"fused CPU kernel: {fused_cpu.UNAVAILABLE}")


def test_the_kernel_is_built_and_loaded_on_linux_x86():
    """``pip install -e .`` (the Makefile's) builds it; an optional build that failed would
    otherwise pass unnoticed and the inference path would quietly be the slow one."""
    if sys.platform != "linux" or platform.machine() not in ("x86_64", "AMD64"):
        pytest.skip("the build is checked on Linux x86-64")
    assert fused_cpu.available() or "neither AVX2 nor AVX-512" in fused_cpu.UNAVAILABLE, fused_cpu.UNAVAILABLE
    assert fused_cpu.ISA in ("AVX-512", "AVX2", "baseline")


def _reference(qkv, shape, over, h, d, scale, wa):
    """The published math on the same token layout: split heads, reference.attend, merge."""
    B, Fr, J = shape
    x = qkv.view(B, Fr, J, 3, h, d)
    if over == "joints":  # sequences (B, F), positions J
        q, k, v = x.reshape(B * Fr, J, 3, h, d).permute(2, 0, 3, 1, 4).unbind(0)
        out = reference.attend(q, k, v, wa, scale=scale)  # (B*F, h, J, d)
        return out.permute(0, 2, 1, 3).reshape(-1, h * d)
    q, k, v = x.permute(3, 0, 2, 4, 1, 5).reshape(3, B * J, h, Fr, d).unbind(0)
    out = reference.attend(q, k, v, wa, scale=scale)  # (B*J, h, F, d)
    return out.view(B, J, h, Fr, d).permute(0, 3, 1, 2, 4).reshape(-1, h * d)


def _inputs(shape, h, d, star, seed=0, spread=1.0):
    g = torch.Generator().manual_seed(seed)
    B, Fr, J = shape
    qkv = torch.randn(B * Fr * J, 3 * h * d, generator=g) * spread
    return qkv


def _rel(a, b):
    return ((a - b).abs().max() / b.abs().max()).item()


@needs_kernel
@pytest.mark.parametrize("d", [16, 32, 64])
@pytest.mark.parametrize("star", [False, True])
@pytest.mark.parametrize("shape,over", [
    ((3, 5, 17), "joints"), ((2, 27, 17), "frames"), ((1, 1, 1), "joints"), ((1, 1, 3), "frames"),
    ((2, 4, 16), "joints"), ((1, 33, 2), "frames"), ((1, 81, 3), "frames"), ((1, 128, 1), "frames"),
    ((5, 2, 64), "joints"),
])
def test_it_equals_the_reference_kernel(shape, over, star, d):
    h, scale = 3, d ** -0.5
    N = shape[2] if over == "joints" else shape[1]
    qkv = _inputs(shape, h, d, star)
    wa = torch.randn(N, d, generator=torch.Generator().manual_seed(5)) if star else None
    out = fused_cpu.attention(qkv, shape, over, h, d, scale, wa)
    expected = _reference(qkv, shape, over, h, d, scale, wa)
    assert out.shape == expected.shape
    assert _rel(out, expected) < 1e-5


@needs_kernel
@pytest.mark.parametrize("star", [False, True])
def test_large_logits_neither_overflow_nor_underflow(star):
    """Logits in the thousands, and rows whose largest logit lies far below another row's: the
    softmax subtracts each row's own maximum. Logits this large are ill-conditioned in fp32 (the
    reference kernel itself is off by ~1e-5 here), so both are held against float64."""
    shape, h, d = (2, 27, 17), 2, 16
    qkv = _inputs(shape, h, d, star, seed=2, spread=12.0)
    qkv[: 17 * 5] *= 1e-3  # some rows with tiny logits beside rows with huge ones
    wa = torch.randn(27, d, generator=torch.Generator().manual_seed(6)) * 10 if star else None
    for over in ("joints", "frames"):
        w = wa if over == "frames" else None
        out = fused_cpu.attention(qkv, shape, over, h, d, 0.25, w)
        exact = _reference(qkv.double(), shape, over, h, d, 0.25, None if w is None else w.double())
        fp32_reference = _reference(qkv, shape, over, h, d, 0.25, w)
        assert torch.isfinite(out).all()
        assert _rel(out, exact) < max(1e-5, 2 * _rel(fp32_reference, exact))


@needs_kernel
def test_a_nan_query_spoils_only_its_own_row():
    shape, h, d = (1, 2, 17), 2, 16
    qkv = _inputs(shape, h, d, False, seed=3)
    qkv[4, 0] = float("nan")  # token 4, head 0's query
    out = fused_cpu.attention(qkv, shape, "joints", h, d, 0.25, None)
    expected = _reference(qkv, shape, "joints", h, d, 0.25, None)
    assert torch.isnan(out[4, :d]).all()
    nan = torch.isnan(out)
    assert nan.sum() == d  # nothing else
    assert torch.allclose(out[~nan], expected[~nan], rtol=1e-5, atol=1e-6)


@needs_kernel
def test_one_and_two_threads_give_the_same_bits():
    shape, h, d = (4, 27, 17), 8, 16
    qkv = _inputs(shape, h, d, True, seed=4)
    wa = torch.randn(27, d, generator=torch.Generator().manual_seed(7))
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        one = fused_cpu.attention(qkv, shape, "frames", h, d, 0.25, wa)
        torch.set_num_threads(2)
        two = fused_cpu.attention(qkv, shape, "frames", h, d, 0.25, wa)
    finally:
        torch.set_num_threads(before)
    assert torch.equal(one, two)


@needs_kernel
def test_what_it_does_not_cover_is_refused_in_one_line():
    shape = (1, 2, 17)
    qkv = _inputs(shape, 2, 16, False)
    assert fused_cpu.supports(qkv, 16, 17)
    assert not fused_cpu.supports(qkv.double(), 16, 17)
    assert not fused_cpu.supports(qkv.t(), 16, 17)  # not contiguous
    assert not fused_cpu.supports(qkv, 8, 17)  # head dim
    assert not fused_cpu.supports(qkv, 16, 129)  # longer than SMALL_SEQ_MAX
    with pytest.raises(ValueError, match="does not cover"):
        fused_cpu.attention(qkv.double(), shape, "joints", 2, 16, 0.25, None)
    with pytest.raises(ValueError, match="over must be"):
        fused_cpu.attention(qkv, shape, "heads", 2, 16, 0.25, None)
    with pytest.raises(ValueError, match="wa must be"):
        fused_cpu.attention(qkv, shape, "joints", 2, 16, 0.25, torch.zeros(3, 16))


def test_two_openmp_runtimes_side_by_side_are_found(tmp_path):
    maps = tmp_path / "maps"
    gomp, iomp = tmp_path / "libgomp.so.1", tmp_path / "libiomp5.so"
    gomp.write_bytes(b""), iomp.write_bytes(b"")
    maps.write_text(f"7f00-7f01 r-xp 0 08:01 1 {gomp}\n7f02-7f03 r-xp 0 08:01 2 {iomp}\n"
                    "7f04-7f05 r-xp 0 08:01 3 /usr/lib/libc.so.6\n")
    assert fused_cpu._openmp_runtimes(str(maps)) == {str(gomp), str(iomp)}
    assert fused_cpu._openmp_runtimes(str(tmp_path / "missing")) == set()


@needs_kernel
@pytest.mark.parametrize("attention", ["star", "vanilla"])
def test_the_inference_path_takes_it_and_matches_the_reference_kernel(attention, monkeypatch):
    torch.manual_seed(0)
    model = MixSTE(num_frames=27, dim=64, depth=2, num_heads=4, attention=attention).eval()  # heads of 16
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(0, 0.2)
    x = torch.randn(3, 27, 17, 2, generator=torch.Generator().manual_seed(1))
    calls = []
    original = fused_cpu.attention
    monkeypatch.setattr(fused_cpu, "attention", lambda *a: calls.append(a[2]) or original(*a))
    with torch.inference_mode():
        fast = model.set_attention_kernel("auto")(x)
        expected = model.set_attention_kernel("reference")(x)
    assert calls == ["joints", "frames"] * 2
    assert _rel(fast, expected) < 1e-5
    with torch.autocast("cpu", dtype=torch.bfloat16), torch.inference_mode():  # bf16: the eager path
        model.set_attention_kernel("auto")(x)
    assert len(calls) == 4


def _split(qkv):
    """q, k, v as Attention.split_heads makes them: strided (B, h, N, d) views into qkv (B, N, 3, h, d)."""
    return tuple(t.transpose(1, 2) for t in qkv.unbind(2))


def _attend_and_grads(fn, qkv, wa, grad_out, scale):
    qkv.grad = None
    if wa is not None:
        wa.grad = None
    out = fn(*_split(qkv), wa, scale=scale)
    out.backward(grad_out)
    return out.detach(), [qkv.grad.clone()] + ([] if wa is None else [wa.grad.clone()])


@needs_kernel
@pytest.mark.parametrize("star", [False, True])
@pytest.mark.parametrize("batch, heads, tokens, d", [
    (4, 4, 17, 16), (3, 2, 27, 32), (2, 2, 81, 64), (2, 3, 1, 16), (1, 2, 128, 16), (5, 1, 33, 32)])
def test_training_forward_and_backward_equal_the_reference_kernel(star, batch, heads, tokens, d):
    g = torch.Generator().manual_seed(tokens + d)
    qkv = torch.randn(batch, tokens, 3, heads, d, generator=g).requires_grad_()
    wa = (0.3 * torch.randn(tokens, d, generator=g)).requires_grad_() if star else None
    grad_out = torch.randn(batch, heads, tokens, d, generator=g)
    out, grads = _attend_and_grads(fused_cpu.attend, qkv, wa, grad_out, d ** -0.5)
    ref_out, ref_grads = _attend_and_grads(reference.attend, qkv, wa, grad_out, d ** -0.5)
    assert _rel(out, ref_out) < 1e-5
    assert len(grads) == len(ref_grads) == (2 if star else 1)
    for grad, ref in zip(grads, ref_grads):  # at one token q, k and Wa get exact zeros
        assert (grad - ref).abs().max() <= 1e-5 * ref.abs().max()


@needs_kernel
def test_the_output_merges_heads_without_a_copy_and_gradients_are_deterministic():
    B, h, N, d = 3, 4, 27, 16
    g = torch.Generator().manual_seed(0)
    qkv = torch.randn(B, N, 3, h, d, generator=g).requires_grad_()
    wa = torch.randn(N, d, generator=g).requires_grad_()
    grad_out = torch.randn(B, h, N, d, generator=g)
    out = fused_cpu.attend(*_split(qkv), wa, scale=0.25)
    merged = out.transpose(1, 2).reshape(B, N, h * d)
    assert merged.data_ptr() == out.data_ptr()  # a view: no head-merge copy
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        first = _attend_and_grads(fused_cpu.attend, qkv, wa, grad_out, 0.25)[1]
        again = _attend_and_grads(fused_cpu.attend, qkv, wa, grad_out, 0.25)[1]
        torch.set_num_threads(1)
        one = _attend_and_grads(fused_cpu.attend, qkv, wa, grad_out, 0.25)[1]
    finally:
        torch.set_num_threads(before)
    assert all(torch.equal(a, b) for a, b in zip(first, again))  # same threads: same bits (exact resume)
    assert torch.equal(first[0], one[0])  # dq, dk, dv: one job per (sequence, head), no sums across
    assert _rel(first[1], one[1]) < 1e-6  # dWa: summed per thread, then over the threads


@needs_kernel
@pytest.mark.parametrize("d, dtype, compiled", [(16, torch.float32, True), (8, torch.float32, False),
                                                (16, torch.float64, False)])
def test_the_cpu_small_kernel_runs_compiled_where_covered_and_eager_elsewhere(d, dtype, compiled, monkeypatch):
    from starpose.models.kernels import cpu_small

    calls = []
    original = fused_cpu.attend
    monkeypatch.setattr(fused_cpu, "attend", lambda *a, **kw: calls.append(1) or original(*a, **kw))
    g = torch.Generator().manual_seed(d)
    qkv = torch.randn(2, 17, 3, 2, d, generator=g, dtype=dtype).requires_grad_()
    wa = torch.randn(17, d, generator=g, dtype=dtype).requires_grad_()
    grad_out = torch.randn(2, 2, 17, d, generator=g, dtype=dtype)
    out, grads = _attend_and_grads(cpu_small.attend, qkv, wa, grad_out, 0.3)
    assert calls == ([1] if compiled else [])
    ref_out, ref_grads = _attend_and_grads(reference.attend, qkv, wa, grad_out, 0.3)
    assert out.dtype == dtype and _rel(out, ref_out) < 1e-5
    assert all(_rel(a, b) < 1e-5 for a, b in zip(grads, ref_grads))


@needs_kernel
@pytest.mark.parametrize("cls", ["vanilla", "star"])
def test_an_attention_layer_in_training_runs_on_the_packed_qkv(cls, monkeypatch):
    """Taken by ``auto`` only, once per call; that its outputs and input and parameter gradients
    equal the reference kernel's is tests/test_attention.py::test_auto_and_reference_kernels_agree
    (its heads-of-16 case)."""
    from starpose.models.attention import ATTENTIONS

    torch.manual_seed(3)
    layer = ATTENTIONS[cls](64, seq_len=27, num_heads=4) if cls == "star" else ATTENTIONS[cls](64, num_heads=4)
    x = torch.randn(3, 27, 64, requires_grad=True)
    calls = []
    original = fused_cpu.attend_packed
    biases = []
    monkeypatch.setattr(fused_cpu, "attend_packed",
                        lambda *a, **kw: calls.append(a[0].shape) or biases.append(kw["bias"]) or original(*a, **kw))
    for kernel in ("auto", "reference"):
        layer.kernel = kernel
        layer(x).square().sum().backward()
    assert calls == [torch.Size([3, 27, 3, 4, 16])]  # auto took it, once; reference did not
    assert biases == [layer.qkv.bias]  # the qkv bias is added by the kernel


@pytest.mark.parametrize("attention", ["star", "vanilla"])
def test_without_the_compiled_kernel_everything_runs_on_the_eager_path(attention, monkeypatch):
    """What an install without a C++ compiler gets: the same model, inference and training."""
    torch.manual_seed(0)
    model = MixSTE(num_frames=27, dim=64, depth=1, num_heads=4, attention=attention)
    x = torch.randn(2, 27, 17, 2, generator=torch.Generator().manual_seed(1))
    results = []
    for lib in (fused_cpu._LIB, None):
        monkeypatch.setattr(fused_cpu, "_LIB", lib)
        assert fused_cpu.available() == (lib is not None)
        model.train().zero_grad()
        model(x).square().sum().backward()
        grads = torch.cat([p.grad.flatten() for p in model.parameters()])
        with torch.inference_mode():
            results.append((model.eval()(x), grads))
    assert _rel(results[1][0], results[0][0]) < 1e-5
    assert _rel(results[1][1], results[0][1]) < 1e-5


@needs_kernel
@pytest.mark.parametrize("isa", ["AVX-512", "AVX2", "baseline"])
def test_every_code_path_the_cpu_can_run_gives_the_reference_outputs_and_gradients(isa):
    """The library holds three builds of the kernel; a CPU runs its best one only, so the others
    (what AMD or older Intel CPUs get) are run here by capping the path."""
    g = torch.Generator().manual_seed(11)
    qkv = torch.randn(3, 27, 3, 2, 32, generator=g).requires_grad_()
    wa = (0.3 * torch.randn(27, 32, generator=g)).requires_grad_()
    grad_out = torch.randn(3, 2, 27, 32, generator=g)
    with fused_cpu.isa_at_most(isa) as used:
        order = list(fused_cpu._ISAS.values())  # best first
        assert order.index(used) >= order.index(isa)  # that path, or the best below it on this CPU
        out, grads = _attend_and_grads(fused_cpu.attend, qkv, wa, grad_out, 32 ** -0.5)
        tokens = torch.randn(2 * 9 * 17, 3 * 4 * 16, generator=g)
        rows = fused_cpu.attention(tokens, (2, 9, 17), "frames", 4, 16, 0.25, None)
    assert fused_cpu.ISA == fused_cpu._ISAS[fused_cpu._LIB.starpose_fused_isa()]  # restored
    ref_out, ref_grads = _attend_and_grads(reference.attend, qkv, wa, grad_out, 32 ** -0.5)
    assert _rel(out, ref_out) < 1e-5
    assert all(_rel(a, b) < 1e-5 for a, b in zip(grads, ref_grads))
    assert _rel(rows, _reference(tokens, (2, 9, 17), "frames", 4, 16, 0.25, None)) < 1e-5


@needs_kernel
@pytest.mark.parametrize("isa", ["AVX-512", "AVX2", "baseline"])
@pytest.mark.parametrize("star", [False, True])
def test_the_qkv_bias_added_in_the_kernel_equals_adding_it_before(star, isa):
    """``attend_packed(qkv, bias=b)`` on a qkv computed without its bias: the output and the
    gradients of qkv, Wa and the bias (the sum of the qkv gradient over batch and tokens) equal
    the reference kernel on ``qkv + b``."""
    B, N, h, d = 5, 17, 4, 16
    g = torch.Generator().manual_seed(7)
    qkv = torch.randn(B, N, 3, h, d, generator=g).requires_grad_()
    bias = torch.randn(3 * h * d, generator=g).requires_grad_()
    wa = (0.3 * torch.randn(N, d, generator=g)).requires_grad_() if star else None
    grad_out = torch.randn(B, h, N, d, generator=g)
    leaves = [qkv, bias] + ([wa] if star else [])

    def run(fn):
        for t in leaves:
            t.grad = None
        out = fn()
        out.backward(grad_out)
        return out.detach(), [t.grad.clone() for t in leaves]

    with fused_cpu.isa_at_most(isa):
        out, grads = run(lambda: fused_cpu.attend_packed(qkv, wa, scale=0.25, bias=bias))
    ref_out, ref_grads = run(lambda: reference.attend(*_split(qkv + bias.view(3, h, d)), wa, scale=0.25))
    assert _rel(out, ref_out) < 1e-5
    assert all(_rel(a, e) < 1e-5 for a, e in zip(grads, ref_grads))
    with pytest.raises(ValueError, match="bias"):
        fused_cpu.attend_packed(qkv, wa, scale=0.25, bias=bias[1:])


@needs_kernel
def test_the_kept_weights_may_lie_at_any_float_alignment():
    """The weights buffer comes from the caller; one 4 bytes past a 64-byte boundary used to be
    read with aligned vector loads (a crash outside torch's 64-byte-aligned allocations)."""
    g = torch.Generator().manual_seed(2)
    B, h, N, d = 2, 2, 17, 16
    qkv = torch.randn(B, N, 3, h, d, generator=g)
    wa = torch.randn(N, d, generator=g)
    q, k, v = _split(qkv)
    out = torch.empty(B, N, h, d).transpose(1, 2)
    for isa in ("AVX-512", "AVX2", "baseline"):
        with fused_cpu.isa_at_most(isa):
            probs = torch.empty(B * h * fused_cpu._LIB.starpose_fused_probs_per_job(N) + 1)[1:]
            assert probs.data_ptr() % 64 == 4
            fused_cpu._run_forward(q.unsqueeze(1), k.unsqueeze(1), v.unsqueeze(1), out.unsqueeze(1), wa, 0.25, probs)
        assert _rel(out, reference.attend(q, k, v, wa, scale=0.25)) < 1e-5


@needs_kernel
def test_a_library_built_from_another_source_is_refused_in_one_line(monkeypatch):
    """An editable install keeps its built library when fused_cpu.cpp changes (a pull): the
    interface version must match, else the eager path runs and bench says why."""
    monkeypatch.setattr(fused_cpu, "ABI", fused_cpu.ABI + 1)
    monkeypatch.setattr(fused_cpu, "UNAVAILABLE", None)
    assert fused_cpu._load() is None
    assert "built from another version of fused_cpu.cpp" in fused_cpu.UNAVAILABLE
    assert "\n" not in fused_cpu.UNAVAILABLE


def test_info_says_whether_the_compiled_kernels_run():
    from starpose.info import info_lines

    text = "\n".join(info_lines())
    assert "kernels  CPU attention and LayerNorm: " in text
    if fused_cpu.available():
        assert f"fused kernel ({fused_cpu.ISA}" in text and "cpu_small* / cpu_small*" in text
    else:
        assert fused_cpu.UNAVAILABLE in text
