"""Compiled CPU kernels: fused attention (forward and backward), LayerNorm, bias + GELU and
the residual passes of a transformer block.

The eager inference path spends, per attention layer, a head-split copy of q, k and v, the
logits, the softmax, ``weights @ v`` (small batched products that run far below the core's
peak) and a head-merge copy. ``fused_cpu.cpp`` does all of it in one pass over the qkv linear
layer's output ``(tokens, 3C)`` in the residual stream's token order and writes the output
``(tokens, C)`` in the same order: nothing is copied, the softmax subtracts each row's maximum
(no overflow, no underflow to a zero sum) and the work is shared out over torch's own OpenMP
threads. Inference, small configuration (27 frames, width 128, 8 heads of 16, batch 16), against
the published forward: x1.59 / x1.57 (star), x1.46 / x1.40 (vanilla) at one / two threads.

Training (:func:`attend`, :func:`attend_packed` with the ``qkv`` bias added in the kernel,
:func:`layer_norm` with its backward and the regrouping of tokens between spatial and temporal
blocks, :func:`bias_gelu`, :func:`add_norm`, :func:`add_bias`): each does one pass where torch
runs several, with a hand-written backward. The small configuration's training step at two
threads: x1.79-1.85 the published computation for star, x1.38-1.41 for vanilla
(docs/performance.md, "fifth pass", with why vanilla stops there).

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


def _ptr(t: torch.Tensor | None) -> int | None:
    """The data pointer of ``t`` (the caller keeps ``t`` alive), or None."""
    return None if t is None else t.data_ptr()


def _fp32(t: torch.Tensor | None) -> torch.Tensor | None:
    return None if t is None else t.detach().to(torch.float32).contiguous()


def _run_forward(q5, k5, v5, out5, wa, scale: float, probs: torch.Tensor | None,
                 bias: torch.Tensor | None = None) -> None:
    S1, P, h, N, d = q5.shape
    wa_, bias_ = _fp32(wa), _fp32(bias)
    rc = _LIB.starpose_fused_forward(_view(q5), _view(k5), _view(v5), _view(out5), _ptr(wa_), _ptr(bias_),
                                     S1 * P, P, N, h, d, float(scale), _ptr(probs), torch.get_num_threads())
    _check(rc)


def _check(rc: int) -> None:
    if rc == 2:
        raise MemoryError("the fused CPU attention kernel ran out of memory")
    if rc != 0:
        raise RuntimeError(f"the fused CPU attention kernel refused its input (code {rc})")


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


def layer_norm(x: torch.Tensor, weight: torch.Tensor | None, bias: torch.Tensor | None,
               eps: float, regroup: tuple[int, int] | None = None) -> torch.Tensor | None:
    """LayerNorm over the last dim of ``x`` (fp32, contiguous, on the CPU), with autograd where
    ``x``, ``weight`` or ``bias`` needs a gradient; or None where the kernel is off or does not
    cover the call (the caller then runs ``F.layer_norm``): other dtypes, autocast, no affine
    parameters, tracing, ``torch.compile``.

    ``regroup=(P, Q)``: the rows of ``x``, ordered ``(A, P, Q)``, are written in ``(A, Q, P)``
    order (what MixSTE does to its tokens between a spatial and a temporal block, here done by
    the write instead of a copy; in the backward, by the read). The output has ``x``'s shape
    either way.

    Forward: two passes per row (the mean, then the variance of ``x - mean``) in vector-wide
    partial sums. Backward (from the kept row means and ``1/std``): ``dx`` per row, ``dw`` and
    ``db`` summed per thread and then over the threads in order (the same bits for the same
    thread count). Equal to ``F.layer_norm`` and its gradients to ~1e-6 relative."""
    C = x.shape[-1] if x.dim() else 0
    P, Q = regroup or (1, 1)
    if (_LIB is None or C < 1 or x.dtype != torch.float32 or x.device.type != "cpu" or not x.is_contiguous()
            or weight is None or bias is None or weight.shape != (C,) or bias.shape != (C,)
            or weight.dtype != torch.float32 or bias.dtype != torch.float32
            or P < 1 or Q < 1 or (x.numel() // C) % (P * Q)
            or torch.is_autocast_enabled("cpu") or torch.jit.is_tracing() or torch.compiler.is_compiling()):
        return None
    if torch.is_grad_enabled() and (x.requires_grad or weight.requires_grad or bias.requires_grad):
        return _LayerNorm.apply(x, weight, bias, float(eps), P, Q)
    return _layer_norm_forward(x, weight, bias, float(eps), False, P, Q)[0]


def _layer_norm_forward(x, weight, bias, eps: float, keep: bool, P: int = 1, Q: int = 1):
    """``(out, mean, rstd)``; the row statistics only where ``keep``."""
    C = x.shape[-1]
    rows = x.numel() // C
    w, b = weight.detach().contiguous(), bias.detach().contiguous()
    out = torch.empty_like(x)
    mean = torch.empty(rows) if keep else None
    rstd = torch.empty(rows) if keep else None
    _check(_LIB.starpose_layer_norm(x.data_ptr(), out.data_ptr(), w.data_ptr(), b.data_ptr(), rows, C,
                                    eps, _ptr(mean), _ptr(rstd), P, Q, torch.get_num_threads()))
    return out, mean, rstd


class _LayerNorm(torch.autograd.Function):
    """:func:`layer_norm` with autograd: x, its row statistics and the weight kept."""

    @staticmethod
    def forward(ctx, x, weight, bias, eps: float, P: int, Q: int):
        out, mean, rstd = _layer_norm_forward(x, weight, bias, eps, True, P, Q)
        ctx.save_for_backward(x, weight, mean, rstd)
        ctx.regroup = P, Q
        return out

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_out):
        x, weight, mean, rstd = ctx.saved_tensors
        grad_out = grad_out.contiguous()
        C = x.shape[-1]
        dx = torch.empty_like(x)
        dw = torch.empty(C, dtype=torch.float32)
        db = torch.empty(C, dtype=torch.float32)
        _check(_LIB.starpose_layer_norm_backward(
            x.data_ptr(), grad_out.data_ptr(), mean.data_ptr(), rstd.data_ptr(), weight.detach().contiguous().data_ptr(),
            None, dx.data_ptr(), dw.data_ptr(), db.data_ptr(), None, x.numel() // C, C, *ctx.regroup,
            torch.get_num_threads()))
        return dx, dw, db, None, None, None


def residual_covers(x: torch.Tensor, *params: torch.Tensor | None) -> bool:
    """Whether :func:`add_norm` and :func:`add_bias` run on residual streams like ``x`` with
    these parameters (biases, LayerNorm weights; None for an absent bias): fp32, contiguous, on
    the CPU, parameters of ``x``'s last dim; no autocast, tracing or ``torch.compile``."""
    C = x.shape[-1] if x.dim() else 0
    return (_LIB is not None and C > 0 and x.dtype == torch.float32 and x.device.type == "cpu"
            and x.is_contiguous()
            and all(p is None or (p.dtype == torch.float32 and p.shape == (C,)) for p in params)
            and not torch.is_autocast_enabled("cpu") and not torch.jit.is_tracing()
            and not torch.compiler.is_compiling())


def _residual_check(x: torch.Tensor, y: torch.Tensor, *params) -> None:
    if not (residual_covers(x, *params) and y.shape == x.shape and y.dtype == x.dtype and y.is_contiguous()):
        raise ValueError(f"the compiled residual kernels do not cover x {tuple(x.shape)} ({x.dtype}), "
                         f"y {tuple(y.shape)} ({y.dtype})")


def add_norm(x: torch.Tensor, y: torch.Tensor, bias: torch.Tensor | None, weight: torch.Tensor,
             norm_bias: torch.Tensor, eps: float) -> tuple[torch.Tensor, torch.Tensor]:
    """A residual connection and the LayerNorm after it in one pass: ``s = x + y + bias``
    (``bias``: the last linear layer's of the branch ``y``, which was computed without it, or
    None) and ``LayerNorm(s)`` with ``weight``, ``norm_bias``, ``eps``; returns ``(s, norm)``.
    The backward writes the residual stream's gradient once (the LayerNorm's input gradient plus
    ``s``'s own), and ``bias``'s gradient is its sum over the rows, in the same pass. The
    LayerNorm's sums are :func:`layer_norm`'s. Only where :func:`residual_covers` (a ValueError
    otherwise)."""
    _residual_check(x, y, bias, weight, norm_bias)
    return _AddNorm.apply(x, y, bias, weight, norm_bias, float(eps))


def add_bias(x: torch.Tensor, y: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
    """``x + y + bias`` in one pass (``y``: a branch computed without its last bias), with
    autograd. Only where :func:`residual_covers` (a ValueError otherwise)."""
    _residual_check(x, y, bias)
    return _AddBias.apply(x, y, bias)


def _add_norm_forward(x, y, bias, weight=None, norm_bias=None, eps: float = 0.0):
    C = x.shape[-1]
    rows = x.numel() // C
    s = torch.empty_like(x)
    out = mean = rstd = None
    bias_ = None if bias is None else bias.detach().contiguous()
    w_ = b_ = None
    if weight is not None:
        out, mean, rstd = torch.empty_like(x), torch.empty(rows), torch.empty(rows)
        w_, b_ = weight.detach().contiguous(), norm_bias.detach().contiguous()
    _check(_LIB.starpose_add_norm(x.data_ptr(), y.data_ptr(), _ptr(bias_), s.data_ptr(), _ptr(out), _ptr(w_),
                                  _ptr(b_), rows, C, eps, _ptr(mean), _ptr(rstd), torch.get_num_threads()))
    return s, out, mean, rstd


class _AddNorm(torch.autograd.Function):
    """:func:`add_norm` with autograd: ``s``, its row statistics and the LayerNorm weight kept."""

    @staticmethod
    def forward(ctx, x, y, bias, weight, norm_bias, eps: float):
        s, out, mean, rstd = _add_norm_forward(x, y, bias, weight, norm_bias, eps)
        ctx.save_for_backward(s, weight, mean, rstd)
        ctx.with_bias = bias is not None
        return s, out

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_s, grad_out):
        s, weight, mean, rstd = ctx.saved_tensors
        C = s.shape[-1]
        rows = s.numel() // C
        grad_s = None if grad_s is None else grad_s.contiguous()
        grad_out = torch.zeros_like(s) if grad_out is None else grad_out.contiguous()
        dx = torch.empty_like(s)
        dw, db = torch.empty(C), torch.empty(C)
        dbias = torch.empty(C) if ctx.with_bias else None
        _check(_LIB.starpose_layer_norm_backward(
            s.data_ptr(), grad_out.data_ptr(), mean.data_ptr(), rstd.data_ptr(), weight.detach().contiguous().data_ptr(),
            _ptr(grad_s), dx.data_ptr(), dw.data_ptr(), db.data_ptr(), _ptr(dbias), rows, C, 1, 1,
            torch.get_num_threads()))
        return dx, dx, dbias, dw, db, None


class _AddBias(torch.autograd.Function):
    """:func:`add_bias` with autograd."""

    @staticmethod
    def forward(ctx, x, y, bias):
        ctx.with_bias = bias is not None
        return _add_norm_forward(x, y, bias)[0]

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad):
        dbias = grad.reshape(-1, grad.shape[-1]).sum(0) if ctx.with_bias and ctx.needs_input_grad[2] else None
        return grad, grad, dbias


def bias_gelu_covers(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> bool:
    """Whether the linear layer ``x @ weight^T`` (without its ``bias``) followed by
    :func:`bias_gelu` runs here: fp32 input and parameters on the CPU, no autocast, tracing or
    ``torch.compile``."""
    return (_LIB is not None and bias is not None and x.dim() >= 1 and x.dtype == torch.float32
            and x.device.type == "cpu" and weight.dtype == torch.float32 and bias.dtype == torch.float32
            and weight.dim() == 2 and bias.shape == weight.shape[:1] and x.shape[-1] == weight.shape[1]
            and not torch.is_autocast_enabled("cpu") and not torch.jit.is_tracing()
            and not torch.compiler.is_compiling())


def bias_gelu(h: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    """``F.gelu(h + bias)`` (the exact, erf form) in one pass, with autograd: the backward
    writes ``dh`` and sums it over the rows for ``dbias`` in the same pass. An MLP's first
    linear layer computed without its bias hands its output here, which spares the bias's
    broadcast copy in the matrix product and the separate sum over the tokens in its backward.
    erf is Abramowitz and Stegun 7.1.26, the formula of torch's vectorised erf: equal to
    ``F.gelu`` to ~1e-6. fp32, contiguous, on the CPU (a ValueError otherwise)."""
    if (_LIB is None or h.dtype != torch.float32 or h.device.type != "cpu" or not h.is_contiguous()
            or h.dim() < 1 or bias is None or bias.dtype != torch.float32 or bias.shape != h.shape[-1:]):
        raise ValueError(f"the compiled GELU does not cover h {tuple(h.shape)} ({h.dtype}) with bias "
                         f"{None if bias is None else tuple(bias.shape)}")
    if torch.is_grad_enabled() and (h.requires_grad or bias.requires_grad):
        return _BiasGelu.apply(h, bias)
    return _bias_gelu_forward(h, bias)


def _bias_gelu_forward(h: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    C = h.shape[-1]
    b = bias.detach().contiguous()
    out = torch.empty_like(h)
    _check(_LIB.starpose_bias_gelu(h.data_ptr(), b.data_ptr(), out.data_ptr(), h.numel() // C, C,
                                   torch.get_num_threads()))
    return out


class _BiasGelu(torch.autograd.Function):
    """:func:`bias_gelu` with autograd: ``h`` (before the bias) and the bias kept."""

    @staticmethod
    def forward(ctx, h, bias):
        ctx.save_for_backward(h, bias)
        return _bias_gelu_forward(h, bias)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_out):
        h, bias = ctx.saved_tensors
        grad_out = grad_out.contiguous()
        C = h.shape[-1]
        dh = torch.empty_like(h)
        db = torch.empty(C, dtype=torch.float32)
        _check(_LIB.starpose_bias_gelu_backward(h.data_ptr(), bias.detach().contiguous().data_ptr(),
                                                grad_out.data_ptr(), dh.data_ptr(), db.data_ptr(),
                                                h.numel() // C, C, torch.get_num_threads()))
        return dh, db


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
        five(q), five(k), five(v), five(grad_out), probs.data_ptr(), _ptr(wa_), _ptr(bias_),
        five(dq), five(dk), five(dv), _ptr(dwa), _ptr(dbias), B, 1, N, h, d, float(scale), torch.get_num_threads())
    _check(rc)
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


__all__ = ["ISA", "UNAVAILABLE", "attend", "attend_packed", "attention", "available", "add_bias", "add_norm", "bias_gelu", "bias_gelu_covers", "covers", "covers_shape", "describe", "layer_norm", "residual_covers", "supports"]
