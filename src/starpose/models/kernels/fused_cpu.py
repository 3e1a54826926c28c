"""Fused CPU attention for the inference path: one call from the qkv rows to the output rows.

The eager inference path spends, per attention layer, a head-split copy of q, k and v, the
logits, the softmax, ``weights @ v`` (small batched products that run far below the core's
peak) and a head-merge copy. ``fused_cpu.cpp`` does all of it in one pass over the qkv linear
layer's output ``(tokens, 3C)`` in the residual stream's token order and writes the output
``(tokens, C)`` in the same order: nothing is copied, the softmax subtracts each row's maximum
(no overflow, no underflow to a zero sum) and the work is shared out over torch's own OpenMP
threads.

Measured side by side on the 2-core Xeon (small configuration: 27 frames, width 128, 8 heads
of 16, batch 16, fp32, allocator fixed, medians of 15 interleaved rounds): the whole forward
129 -> 116 ms (vanilla) and 139 -> 119 ms (star) at one thread, 71 -> 59 ms and 73 -> 61 ms at
two (docs/performance.md, "fourth pass").

It is built by ``setup.py`` as an optional extension (``_fused_cpu*.so`` beside this file; a
build without a C++ compiler or OpenMP goes on without it) and loaded with ctypes. Covered:
fp32, head dims 16, 32 and 64, sequences of 1 to 128 tokens, torch's OpenMP runtime (Linux
builds); everything else stays on the eager path. Outputs equal the reference kernel's to
1e-5 relative (``tests/test_fused_cpu.py``).
"""
from __future__ import annotations

import ctypes
import glob
import os

import torch

_HERE = os.path.dirname(os.path.abspath(__file__))

#: Why the fused kernel is off (None when it is on): shown by ``starpose bench`` and ``info``.
UNAVAILABLE: str | None = None

_LIB = None


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
    runtimes = _openmp_runtimes()
    if len(runtimes) > 1:
        UNAVAILABLE = f"two OpenMP runtimes would run side by side ({', '.join(sorted(runtimes))})"
        return None
    lib.starpose_fused_attention.restype = ctypes.c_int
    i64 = ctypes.c_int64
    lib.starpose_fused_attention.argtypes = ([ctypes.c_void_p] * 3 + [i64] * 8
                                             + [ctypes.c_float, ctypes.c_int])
    lib.starpose_fused_supports.restype = ctypes.c_int
    lib.starpose_fused_supports.argtypes = [i64, i64]
    lib.starpose_fused_isa.restype = ctypes.c_int
    return lib


_LIB = _load()

#: The instruction set the kernel runs with here (None when it is off).
ISA = None if _LIB is None else {3: "AVX-512", 2: "AVX2", 1: "baseline"}[_LIB.starpose_fused_isa()]


def available() -> bool:
    """Whether the fused kernel is built and loaded here."""
    return _LIB is not None


def supports(qkv: torch.Tensor, head_dim: int, seq_len: int) -> bool:
    """Whether :func:`attention` runs on ``qkv`` with these heads and sequences."""
    return (_LIB is not None and qkv.dtype == torch.float32 and qkv.device.type == "cpu"
            and qkv.is_contiguous() and not qkv.requires_grad
            and bool(_LIB.starpose_fused_supports(head_dim, seq_len)))


def attention(qkv: torch.Tensor, shape: tuple[int, int, int], over: str, num_heads: int,
              head_dim: int, scale: float, wa: torch.Tensor | None) -> torch.Tensor:
    """Multi-head attention of tokens ``qkv`` ``(B*F*J, 3C)`` (``(B, F, J)`` order, rows
    ``[q | k | v]``, heads of ``head_dim`` within each) over the joints of each frame
    (``over="joints"``) or the frames of each joint (``"frames"``) -> ``(B*F*J, C)`` in the same
    order. ``wa``: the Star-Attention weight ``(N, head_dim)`` or None. Only where
    :func:`supports` (a ValueError otherwise)."""
    B, Fr, J = shape
    if over == "joints":
        S, N, P, A, Bs, T = B * Fr, J, 1, J, 0, 1
    elif over == "frames":
        S, N, P, A, Bs, T = B * J, Fr, J, Fr * J, 1, J
    else:
        raise ValueError(f"over must be 'joints' or 'frames', got {over!r}")
    C = num_heads * head_dim
    if qkv.shape != (B * Fr * J, 3 * C) or not supports(qkv, head_dim, N):
        raise ValueError(f"the fused CPU kernel does not cover qkv {tuple(qkv.shape)} "
                         f"({qkv.dtype}, {num_heads} heads of {head_dim}, {N} tokens)")
    if wa is not None:
        wa = wa.detach().to(torch.float32).contiguous()
        if wa.shape != (N, head_dim):
            raise ValueError(f"wa must be ({N}, {head_dim}), got {tuple(wa.shape)}")
    out = torch.empty(qkv.shape[0], C, dtype=torch.float32)
    rc = _LIB.starpose_fused_attention(qkv.data_ptr(), out.data_ptr(), None if wa is None else wa.data_ptr(),
                                       S, N, num_heads, head_dim, P, A, Bs, T, float(scale),
                                       torch.get_num_threads())
    if rc == 2:
        raise MemoryError("the fused CPU attention kernel ran out of memory")
    if rc != 0:
        raise RuntimeError(f"the fused CPU attention kernel refused its input (code {rc})")
    return out


__all__ = ["ISA", "UNAVAILABLE", "attention", "available", "supports"]
