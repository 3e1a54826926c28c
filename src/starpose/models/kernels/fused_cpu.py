"""The compiled CPU kernel library (``fused_cpu.cpp``), and its fused attention.

The library: built by ``setup.py``, loaded here with ctypes, its code path (AVX-512, AVX2,
baseline) and why it is off where it is (:func:`describe`). Its row-wise passes (LayerNorm,
residual connections, bias + GELU) are wrapped in :mod:`.fused_rows`.

The attention: the eager inference path spends, per attention layer, a head-split copy of q, k
and v, the logits, the softmax, ``weights @ v`` (small batched products that run far below the
core's peak) and a head-merge copy. ``fused_cpu.cpp`` does all of it in one pass over the qkv
linear layer's output ``(tokens, 3C)`` in the residual stream's token order and writes the
output ``(tokens, C)`` in the same order: nothing is copied, the softmax subtracts each row's
maximum (no overflow, no underflow to a zero sum) and the work is shared out over torch's own
OpenMP threads. Inference, small configuration (27 frames, width 128, 8 heads of 16, batch 16),
against the published forward: x1.59 / x1.57 (star), x1.46 / x1.40 (vanilla) at one / two
threads. In training (:func:`attend`, :func:`attend_packed` with the ``qkv`` bias added in the
kernel) the forward keeps the weights and the backward writes dq, dk, dv into the packed qkv
gradient; with the row-wise passes, the small configuration's training step at two threads is
x1.79-1.85 the published computation for star, x1.38-1.41 for vanilla (docs/performance.md,
"fifth pass", with why vanilla stops there).

It is built by ``setup.py`` as an optional extension (``_fused_cpu*.so`` beside this file; a
build without a C++ compiler or OpenMP goes on without it) and loaded with ctypes. It holds three
builds (AVX-512, AVX2, baseline) and runs the CPU's best; without AVX2 it is not used (the
baseline build is slower than the eager kernels). Covered: fp32, torch on OpenMP (Linux
builds); attention with head dims 16, 32 and 64 over 1 to 128 tokens; everything else stays on
the eager path. Outputs and gradients equal torch's ops (the reference kernel's for attention) to
1e-5 relative (``tests/test_fused_cpu.py``).
"""
from __future__ import annotations

import contextlib
import ctypes
import glob
import os

import torch

_HERE = os.path.dirname(os.path.abspath(__file__))

#: The library interface this module speaks (``starpose_fused_abi`` in fused_cpu.cpp).
ABI = 8

#: Why the kernels are off (None when they are on): shown by ``starpose bench`` and ``starpose info``.
UNAVAILABLE: str | None = None

_LIB = None


class _View(ctypes.Structure):
    """A strided tensor as the library reads it: element (s, g, n, c) at
    ``p[(s // P) * s1 + (s % P) * s2 + g * sh + n * sn + c]``."""
    _fields_ = [("p", ctypes.c_void_p), ("s1", ctypes.c_int64), ("s2", ctypes.c_int64),
                ("sh", ctypes.c_int64), ("sn", ctypes.c_int64)]


def _openmp_runtimes(maps: str = "/proc/self/maps") -> set[str]:
    """The OpenMP runtime files mapped into this process (Linux; empty where unknown)."""
    try:
        with open(maps) as fh:
            names = {line.split()[-1] for line in fh if "/lib" in line}
    except OSError:
        return set()
    return {os.path.realpath(n) for n in names if os.path.basename(n).startswith(("libgomp", "libiomp", "libomp"))}


def _load():
    """The library, or None with :data:`UNAVAILABLE` saying why."""
    global UNAVAILABLE
    found = sorted(glob.glob(os.path.join(_HERE, "_fused_cpu*.so")))
    if not found:
        UNAVAILABLE = "not built (setup.py builds it where a C++ compiler with OpenMP is found)"
        return None
    if "OpenMP" not in torch.__config__.parallel_info():
        UNAVAILABLE = "torch does not run on OpenMP here (the kernel shares torch's OpenMP threads)"
        return None
    try:
        lib = ctypes.CDLL(found[0])
    except OSError as exc:
        UNAVAILABLE = f"cannot be loaded: {exc}"
        return None
    abi = getattr(lib, "starpose_fused_abi", None)
    if abi is None or abi() != ABI:
        UNAVAILABLE = (f"{os.path.basename(found[0])} was built from another version of fused_cpu.cpp "
                       "(run `pip install -e .` again)")
        return None
    runtimes = _openmp_runtimes()
    if len(runtimes) > 1:
        UNAVAILABLE = f"two OpenMP runtimes would run side by side ({', '.join(sorted(runtimes))})"
        return None
    i64, view = ctypes.c_int64, ctypes.POINTER(_View)
    lib.starpose_fused_forward.restype = ctypes.c_int
    lib.starpose_fused_forward.argtypes = ([view] * 4 + [ctypes.c_void_p] * 2 + [i64] * 5
                                           + [ctypes.c_float, ctypes.c_void_p, ctypes.c_int])
    lib.starpose_fused_backward.restype = ctypes.c_int
    lib.starpose_fused_backward.argtypes = ([view] * 4 + [ctypes.c_void_p] * 3 + [view] * 3
                                            + [ctypes.c_void_p] * 2 + [i64] * 5 + [ctypes.c_float, ctypes.c_int])
    lib.starpose_fused_supports.restype = ctypes.c_int
    lib.starpose_fused_supports.argtypes = [i64, i64]
    lib.starpose_fused_probs_per_job.restype = i64
    lib.starpose_fused_probs_per_job.argtypes = [i64]
    lib.starpose_fused_isa.restype = ctypes.c_int
    lib.starpose_fused_cap_isa.restype = ctypes.c_int
    lib.starpose_fused_cap_isa.argtypes = [ctypes.c_int]
    lib.starpose_layer_norm.restype = ctypes.c_int
    lib.starpose_layer_norm.argtypes = ([ctypes.c_void_p] * 4 + [i64] * 2 + [ctypes.c_float]
                                        + [ctypes.c_void_p] * 2 + [i64] * 2 + [ctypes.c_int])
    lib.starpose_layer_norm_backward.restype = ctypes.c_int
    lib.starpose_layer_norm_backward.argtypes = [ctypes.c_void_p] * 10 + [i64] * 4 + [ctypes.c_int]
    lib.starpose_add_norm.restype = ctypes.c_int
    lib.starpose_add_norm.argtypes = ([ctypes.c_void_p] * 7 + [i64] * 2 + [ctypes.c_float]
                                      + [ctypes.c_void_p] * 2 + [ctypes.c_int])
    lib.starpose_bias_gelu.restype = ctypes.c_int
    lib.starpose_bias_gelu.argtypes = [ctypes.c_void_p] * 3 + [i64] * 2 + [ctypes.c_int]
    lib.starpose_bias_gelu_backward.restype = ctypes.c_int
    lib.starpose_bias_gelu_backward.argtypes = [ctypes.c_void_p] * 5 + [i64] * 2 + [ctypes.c_int]
    return lib


_LIB = _load()
if _LIB is not None and _LIB.starpose_fused_isa() < 2:
    # The baseline build (16-byte vectors) ran slower than the eager kernels on the 2-core Xeon
    # (2.6 vs ~1.7 ms for the small configuration's spatial attention, one thread): kept for
    # tests (isa_at_most) on CPUs that have a better one, not used.
    UNAVAILABLE = "this CPU has neither AVX2 nor AVX-512 (the eager kernels are faster than the baseline build)"
    _LIB = None

#: The code paths by the library's number for them.
_ISAS = {3: "AVX-512", 2: "AVX2", 1: "baseline"}

#: The code path the kernel runs here (None when it is off).
ISA = None if _LIB is None else _ISAS[_LIB.starpose_fused_isa()]


@contextlib.contextmanager
def isa_at_most(name: str):
    """Inside the block the kernel runs the code path ``name`` ("AVX-512", "AVX2", "baseline")
    or, where the CPU lacks it, the best one below; yields the one in use. For tests: a machine
    runs only its best path otherwise."""
    level = {v: k for k, v in _ISAS.items()}[name]
    try:
        yield _ISAS[_LIB.starpose_fused_cap_isa(level)]
    finally:
        _LIB.starpose_fused_cap_isa(3)


def available() -> bool:
    """Whether the fused kernel is built and loaded here."""
    return _LIB is not None


def covers_shape(head_dim: int, seq_len: int) -> bool:
    """Whether fp32 attention over ``seq_len`` tokens with heads of ``head_dim`` runs here."""
    return _LIB is not None and bool(_LIB.starpose_fused_supports(head_dim, seq_len))


def supports(qkv: torch.Tensor, head_dim: int, seq_len: int) -> bool:
    """Whether :func:`attention` runs on ``qkv`` with these heads and sequences."""
    return (qkv.dtype == torch.float32 and qkv.device.type == "cpu" and qkv.is_contiguous()
            and covers_shape(head_dim, seq_len))


def covers(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, wa: torch.Tensor | None) -> bool:
    """Whether :func:`attend` runs on q, k, v ``(B, h, N, d)``: fp32 on the CPU, unit stride
    over the channels, head dim 16/32/64, 1 to 128 positions."""
    _, _, N, d = q.shape
    return (all(t.dtype == torch.float32 and t.device.type == "cpu" and t.stride(3) == 1
                and t.shape == q.shape for t in (q, k, v))
            and (wa is None or wa.shape == (N, d)) and covers_shape(d, N))


def describe() -> str:
    """One line for ``starpose bench`` and ``starpose info``: the kernels and their code path,
    or why the eager ones run."""
    if _LIB is not None:
        return f"fused kernel ({ISA}, torch's OpenMP threads)"
    return f"eager (the fused kernel is off: {UNAVAILABLE})"


def _view(t: torch.Tensor) -> _View:
    """``t`` ``(S1, P, h, N, d)`` (unit stride over d) as the library's View."""
    s1, s2, sh, sn, sc = t.stride()
    assert sc == 1 or t.shape[-1] == 1
    return _View(t.data_ptr(), s1, s2, sh, sn)


def library():
    """The loaded library (ctypes), or None where it is off: for the modules that call its other
    entry points (:mod:`.fused_rows`)."""
    return _LIB


def pointer(t: torch.Tensor | None) -> int | None:
    """The data pointer of ``t`` (the caller keeps ``t`` alive), or None."""
    return None if t is None else t.data_ptr()


def _fp32(t: torch.Tensor | None) -> torch.Tensor | None:
    return None if t is None else t.detach().to(torch.float32).contiguous()


def _run_forward(q5, k5, v5, out5, wa, scale: float, probs: torch.Tensor | None,
                 bias: torch.Tensor | None = None) -> None:
    S1, P, h, N, d = q5.shape
    wa_, bias_ = _fp32(wa), _fp32(bias)
    rc = _LIB.starpose_fused_forward(_view(q5), _view(k5), _view(v5), _view(out5), pointer(wa_), pointer(bias_),
                                     S1 * P, P, N, h, d, float(scale), pointer(probs), torch.get_num_threads())
    check(rc)


def check(rc: int) -> None:
    """Raise for a library call's return code: 2 out of memory, any other non-zero a refusal."""
    if rc == 2:
        raise MemoryError("the compiled CPU kernels ran out of memory")
    if rc != 0:
        raise RuntimeError(f"a compiled CPU kernel refused its input (code {rc})")


def attention(qkv: torch.Tensor, shape: tuple[int, int, int], over: str, num_heads: int,
              head_dim: int, scale: float, wa: torch.Tensor | None) -> torch.Tensor:
    """Multi-head attention of tokens ``qkv`` ``(B*F*J, 3C)`` (``(B, F, J)`` order, rows
    ``[q | k | v]``, heads of ``head_dim`` within each) over the joints of each frame
    (``over="joints"``) or the frames of each joint (``"frames"``) -> ``(B*F*J, C)`` in the same
    order, read and written in place (no copies). ``wa``: the Star-Attention weight
    ``(N, head_dim)`` or None. No autograd. Only where :func:`supports` (a ValueError otherwise)."""
    B, Fr, J = shape
    h, d = num_heads, head_dim
    if over not in ("joints", "frames"):
        raise ValueError(f"over must be 'joints' or 'frames', got {over!r}")
    N = J if over == "joints" else Fr
    if qkv.shape != (B * Fr * J, 3 * h * d) or not supports(qkv, d, N):
        raise ValueError(f"the fused CPU kernel does not cover qkv {tuple(qkv.shape)} "
                         f"({qkv.dtype}, {h} heads of {d}, {N} tokens)")
    if wa is not None and wa.shape != (N, d):
        raise ValueError(f"wa must be ({N}, {d}), got {tuple(wa.shape)}")
    out = torch.empty(B * Fr * J, h * d, dtype=torch.float32)
    parts = qkv.view(B, Fr, J, 3, h, d).unbind(3)
    rows = out.view(B, Fr, J, h, d)
    if over == "joints":  # sequences (B*F, 1), positions J
        five = lambda t: t.reshape(B * Fr, J, h, d).permute(0, 2, 1, 3).unsqueeze(1)  # noqa: E731
    else:  # sequences (B, J), positions F
        five = lambda t: t.permute(0, 2, 3, 1, 4)  # noqa: E731
    _run_forward(*(five(t) for t in parts), five(rows), wa, scale, None)
    return out


def attend(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, wa: torch.Tensor | None = None, *,
           scale: float) -> torch.Tensor:
    """``softmax(logits) @ v`` for q, k, v ``(B, h, N, d)`` (strided views, e.g. into a ``qkv``
    output), with autograd: the weights are kept for a backward written in the same kernel.
    The output is a ``(B, h, N, d)`` view of a ``(B, N, h, d)`` tensor, so that merging the heads
    afterwards is a view. Only where :func:`covers` (a ValueError otherwise)."""
    if not covers(q, k, v, wa):
        raise ValueError(f"the fused CPU kernel does not cover q {tuple(q.shape)} ({q.dtype})")
    return _Fused.apply(q, k, v, wa, scale)


def attend_packed(qkv: torch.Tensor, wa: torch.Tensor | None = None, *, scale: float,
                  bias: torch.Tensor | None = None) -> torch.Tensor:
    """:func:`attend` on the packed ``qkv`` ``(B, N, 3, h, d)`` itself (the ``qkv`` linear layer's
    output, viewed): the gradient is written straight into that layout, where going through the
    q, k, v views would make autograd stack their three gradients into it with one more copy.

    ``bias``: None, or the ``qkv`` layer's bias ``(3 * h * d,)`` when ``qkv`` was computed
    without it: the kernel adds it to q, k and v as it reads them and returns its gradient (the
    sums of dq, dk and dv), which spares the linear layer the bias's broadcast copy and the
    gradient's sum over the tokens."""
    B, N, three, h, d = qkv.shape
    q, k, v = _heads(qkv)
    if not covers(q, k, v, wa) or bias is not None and (bias.shape != (three * h * d,) or bias.dtype != torch.float32):
        raise ValueError(f"the fused CPU kernel does not cover qkv {tuple(qkv.shape)} ({qkv.dtype})"
                         + ("" if bias is None else f" with bias {tuple(bias.shape)} ({bias.dtype})"))
    return _FusedPacked.apply(qkv, wa, bias, scale)


def _heads(qkv: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """q, k, v ``(B, h, N, d)`` views into ``qkv`` ``(B, N, 3, h, d)``."""
    return tuple(t.transpose(1, 2) for t in qkv.unbind(2))


def _forward_keeping(q, k, v, wa, scale: float, keep: bool, bias: torch.Tensor | None = None):
    """The output ``(B, h, N, d)`` (a view of ``(B, N, h, d)``) and the weights kept (or None)."""
    B, h, N, d = q.shape
    out = torch.empty(B, N, h, d, dtype=torch.float32).permute(0, 2, 1, 3)
    probs = torch.empty(B * h * _LIB.starpose_fused_probs_per_job(N)) if keep else None
    _run_forward(q.unsqueeze(1), k.unsqueeze(1), v.unsqueeze(1), out.unsqueeze(1), wa, scale, probs, bias)
    return out, probs


def _backward(q, k, v, wa, probs, grad_out, scale: float, bias: torch.Tensor | None = None):
    """``(grads, dwa, dbias)``: grads ``(B, N, 3, h, d)`` in the packed qkv layout, dwa ``(N, d)``
    (star) and dbias ``(3 * h * d,)`` (where a bias was given) or None."""
    B, h, N, d = q.shape
    if grad_out.stride(3) != 1:
        grad_out = grad_out.contiguous()
    grads = torch.empty(B, N, 3, h, d, dtype=torch.float32)
    dq, dk, dv = _heads(grads)
    dwa = None if wa is None else torch.empty(N, d, dtype=torch.float32)
    dbias = None if bias is None else torch.empty(3 * h * d, dtype=torch.float32)
    wa_, bias_ = _fp32(wa), _fp32(bias)
    five = lambda t: _view(t.unsqueeze(1))  # noqa: E731
    rc = _LIB.starpose_fused_backward(
        five(q), five(k), five(v), five(grad_out), probs.data_ptr(), pointer(wa_), pointer(bias_),
        five(dq), five(dk), five(dv), pointer(dwa), pointer(dbias), B, 1, N, h, d, float(scale), torch.get_num_threads())
    check(rc)
    return grads, None if dwa is None else dwa.to(wa.dtype), dbias


class _Fused(torch.autograd.Function):
    """:func:`attend`: q, k, v views in, their gradients out."""

    @staticmethod
    def forward(ctx, q, k, v, wa, scale: float):
        out, probs = _forward_keeping(q, k, v, wa, scale, any(ctx.needs_input_grad[:4]))
        ctx.save_for_backward(q, k, v, wa, probs)
        ctx.scale = scale
        return out

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_out):
        q, k, v, wa, probs = ctx.saved_tensors
        grads, dwa, _ = _backward(q, k, v, wa, probs, grad_out, ctx.scale)
        return (*_heads(grads), dwa, None)


class _FusedPacked(torch.autograd.Function):
    """:func:`attend_packed`: the packed qkv (and the bias not yet added to it) in, their
    gradients out, the packed one in the same layout."""

    @staticmethod
    def forward(ctx, qkv, wa, bias, scale: float):
        out, probs = _forward_keeping(*_heads(qkv), wa, scale, any(ctx.needs_input_grad[:3]), bias)
        ctx.save_for_backward(qkv, wa, bias, probs)
        ctx.scale = scale
        return out

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_out):
        qkv, wa, bias, probs = ctx.saved_tensors
        grads, dwa, dbias = _backward(*_heads(qkv), wa, probs, grad_out, ctx.scale, bias)
        return grads, dwa, dbias, None


__all__ = ["ISA", "UNAVAILABLE", "attend", "attend_packed", "attention", "available", "check", "covers", "covers_shape",
           "describe", "library", "pointer", "supports"]
