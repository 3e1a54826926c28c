"""The inference kernel: attention without autograd, for ``torch.no_grad`` / ``inference_mode``.

Selected by ``auto`` on the CPU when grad is disabled (fp32/fp64, no dropout) for at most
``SMALL_SEQ_MAX`` tokens (longer ones go to SDPA); :mod:`starpose.models.inference_path`, the
model's CPU inference path, calls :func:`attend_heads` directly. It keeps nothing for a
backward pass, so it can work in place and in chunks:

* q, k, v are copied once into head-major ``(B*h, N, d)`` buffers (one ``stack``);
* up to ``KEYS_MAJOR_MAX`` tokens (the joints) the logits are built keys-major
  ``(B*h, N_k, N_q)``: the star term ``0.5 Wa (q*k)^T`` is then one flat matmul
  ``(B*h*N, d) @ (d, N)`` with no broadcast copy of ``Wa``, and the q.k term is accumulated into
  it in place (``baddbmm_``). Longer sequences are built query-major, the star term as one
  batched matmul of the broadcast ``0.5 Wa``;
* no softmax pass: the logits are exponentiated in place (shifted down by the chunk's largest
  logit only when that exceeds :data:`SHIFT_ABOVE`, so nothing overflows), ``exp(logits) @ v``
  is written straight into the output buffer and each row is then scaled by the inverse of its
  sum of weights. That is ``softmax(logits) @ v`` up to rounding: with no per-row maximum to
  subtract, a row whose largest logit lies far below the shift would underflow, so a chunk in
  which a row's weights sum to less than :data:`SMALLEST_SUM` (or to NaN) is done again with the
  softmax. Measured side by side on the 2-core Xeon (27 frames, 8 heads of 16, one thread,
  per MiB of logits and ``@ v``): 0.37 vs 0.53 ms query-major, 0.52 vs 0.62 ms keys-major; the
  whole small-configuration forward 5 % faster at one thread, 3 % at two;
* the sequences are processed in chunks, so that the materialised logits never exceed
  :data:`CHUNK_BYTES` (243 frames x 8 heads x 17 joints x 64 windows would otherwise need 2 GB).

Calling it with inputs that require grad is a programmer error (RuntimeError): it has no
backward. Outputs equal :mod:`.reference`'s to 1e-5 relative (``tests/test_kernels.py``).
"""
from __future__ import annotations

import torch

from starpose.models.kernels.cpu_small import KEYS_MAJOR_MAX

def l2_cache_bytes(path: str = "/sys/devices/system/cpu/cpu0/cache") -> int | None:
    """The first core's level-2 cache size from Linux's sysfs; None where it cannot be read."""
    import glob
    import os

    for index in sorted(glob.glob(os.path.join(path, "index*"))):
        try:
            with open(os.path.join(index, "level")) as fh:
                if fh.read().strip() != "2":
                    continue
            with open(os.path.join(index, "size")) as fh:
                size = fh.read().strip().upper()
        except OSError:
            continue
        units = {"K": 2**10, "M": 2**20}
        try:
            return int(size[:-1]) * units[size[-1]] if size[-1] in units else int(size)
        except ValueError:
            return None
    return None


#: Largest logits block materialised at once (bytes): a core's L2 cache (1 MiB where unknown;
#: kept within 512 KiB - 4 MiB), so that the logits are written, exponentiated and read again
#: while they are still in cache. Measured on one core of an AMD EPYC (1 MiB L2): the paper's
#: star temporal attention (243 frames, 136 sequences) 50 ms in 1 MiB chunks vs 75-105 ms in
#: 64 MiB ones; on the 2-core Xeon (2 MiB L2), side by side, the small configuration's whole
#: forward (27 frames, width 128) 2 % faster at one thread and 3 % at two in 2 MiB chunks than in
#: 1 MiB ones.
CHUNK_BYTES = min(max(l2_cache_bytes() or 2**20, 2**19), 2**22)

#: Logits up to this are exponentiated as they are (exp(30) ~ 1e13: the sums and ``@ v`` stay
#: far from overflow); a chunk with a larger logit is shifted down by its largest first.
SHIFT_ABOVE = 30.0

#: A chunk in which some row's weights sum to less than this (or to NaN) is done again with the
#: softmax: its weights came close to fp32's smallest normal numbers and lost precision.
SMALLEST_SUM = 1e-30


def attend(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, wa: torch.Tensor | None = None, *,
           scale: float, dropout_p: float = 0.0) -> torch.Tensor:
    """q, k, v ``(B, h, N, d)`` (any strides), ``wa`` ``(N, d)`` or None -> ``(B, h, N, d)``."""
    if dropout_p > 0:
        raise ValueError("the inference attention kernel has no attention dropout")
    if torch.is_grad_enabled() and any(t is not None and t.requires_grad for t in (q, k, v, wa)):
        raise RuntimeError("the inference attention kernel has no backward; run it under torch.no_grad()")
    B, h, N, d = q.shape
    q_, k_, v_ = torch.stack((q, k, v)).view(3, B * h, N, d).unbind(0)
    return attend_heads(q_, k_, v_, wa, scale=scale).view(B, h, N, d)


def attend_heads(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, wa: torch.Tensor | None = None, *,
                 scale: float) -> torch.Tensor:
    """The kernel on contiguous head-major q, k, v ``(G, N, d)`` (G = batch x heads) -> ``(G, N, d)``."""
    G, N, _ = q.shape
    half_wa_t = None if wa is None else (0.5 * wa.to(q.dtype)).t()
    out = torch.empty_like(q)
    step = max(1, CHUNK_BYTES // (N * N * q.element_size()))
    for start in range(0, G, step):
        part = slice(start, start + step)
        _chunk(q[part], k[part], v[part], half_wa_t, scale, out[part])
    return out


def _chunk(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, half_wa_t: torch.Tensor | None,
           scale: float, out: torch.Tensor) -> None:
    """``softmax(logits) @ v`` of one chunk, q, k, v ``(G, N, d)``, into ``out`` ``(G, N, d)``."""
    logits, keys_dim = _logits(q, k, half_wa_t, scale)
    top = logits.amax().item()
    if top > SHIFT_ABOVE:
        logits.sub_(top)
    weights = logits.exp_()
    sums = weights.sum(keys_dim, keepdim=True)
    if not sums.amin().item() >= SMALLEST_SUM:  # also when NaN: the softmax decides then
        logits, keys_dim = _logits(q, k, half_wa_t, scale)
        weights, sums = logits.softmax(dim=keys_dim), None
    if keys_dim == 1:  # keys-major (G, N_k, N_q): the weights of each query are a column
        weights = weights.transpose(1, 2)
        sums = None if sums is None else sums.transpose(1, 2)
    torch.bmm(weights, v, out=out)
    if sums is not None:
        out.mul_(sums.reciprocal_())


def _logits(q: torch.Tensor, k: torch.Tensor, half_wa_t: torch.Tensor | None,
            scale: float) -> tuple[torch.Tensor, int]:
    """The logits of q, k ``(G, N, d)`` and the dim of their keys: keys-major ``(G, N_k, N_q)``
    (keys dim 1) up to ``KEYS_MAJOR_MAX`` tokens, query-major ``(G, N_q, N_k)`` (dim 2) above."""
    G, N, d = q.shape
    if N <= KEYS_MAJOR_MAX:
        return keys_major_logits(q, k, half_wa_t, scale), 1
    if half_wa_t is None:
        return torch.baddbmm(q.new_empty(G, N, N), q, k.transpose(1, 2), beta=0.0, alpha=scale), 2
    star = torch.bmm(half_wa_t.t().expand(G, N, d), (q * k).transpose(1, 2))
    return star.baddbmm_(q, k.transpose(1, 2), alpha=0.5 * scale), 2


def keys_major_logits(q: torch.Tensor, k: torch.Tensor, half_wa_t: torch.Tensor | None,
                      scale: float) -> torch.Tensor:
    """Logits stored keys-major ``(G, N_k, N_q)`` from contiguous q, k ``(G, N, d)``.

    Vanilla: ``scale k q^T``; star (``half_wa_t`` = ``(0.5 Wa)^T`` ``(d, N)``):
    ``(q*k) @ (0.5 Wa)^T + 0.5 scale k q^T``, i.e. ``0.5 (Wa (q*k)^T + scale q k^T)`` transposed.
    """
    G, N, d = q.shape
    if half_wa_t is None:
        return torch.baddbmm(q.new_empty(G, N, N), k, q.transpose(1, 2), beta=0.0, alpha=scale)
    star = torch.mm((q * k).view(G * N, d), half_wa_t).view(G, N, N)
    return star.baddbmm_(k, q.transpose(1, 2), alpha=0.5 * scale)


__all__ = ["attend", "attend_heads", "keys_major_logits", "CHUNK_BYTES", "SHIFT_ABOVE", "SMALLEST_SUM"]
