"""The inference kernel: attention without autograd, for ``torch.no_grad`` / ``inference_mode``.

Selected by ``auto`` on the CPU when grad is disabled (fp32/fp64, no dropout) for at most
``SMALL_SEQ_MAX`` tokens (longer ones go to SDPA); :mod:`starpose.models.inference_path`, the
model's CPU inference path, calls :func:`attend_heads` directly. It keeps nothing for a
backward pass, so it can work in place and in chunks:

* q, k, v are copied once into head-major ``(B*h, N, d)`` buffers (one ``stack``);
* up to ``KEYS_MAJOR_MAX`` tokens (the joints) the logits are built keys-major
  ``(B*h, N_k, N_q)``: the star term ``0.5 Wa (q*k)^T`` is then one flat matmul
  ``(B*h*N, d) @ (d, N)`` with no broadcast copy of ``Wa``, and the q.k term is accumulated into
  it in place (``baddbmm_``); the softmax runs over the keys (dim 1). Longer sequences are built
  query-major (the last-dim softmax is then faster), the star term as one batched matmul;
* the sequences are processed in chunks, so that the materialised logits never exceed
  :data:`CHUNK_BYTES` (243 frames x 8 heads x 17 joints x 64 windows would otherwise need 2 GB);
* ``probs^T @ v`` is written straight into the output buffer.

Calling it with inputs that require grad is a programmer error (RuntimeError): it has no
backward. Outputs equal :mod:`.reference`'s to 1e-5 relative (``tests/test_kernels.py``).
"""
from __future__ import annotations

import torch

from starpose.models.kernels.cpu_small import KEYS_MAJOR_MAX

#: Largest logits block materialised at once (bytes). 1 MiB, about a core's L2 cache: the logits
#: are written, scaled, softmaxed and read again while they are still in cache. Measured on one
#: core (AMD EPYC, 1 MiB L2): the paper's star temporal attention (243 frames, 136 sequences)
#: 50 ms in 1 MiB chunks vs 75-105 ms in 64 MiB ones; no loss at 17-27 tokens.
CHUNK_BYTES = 2**20


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
        torch.bmm(_probs(q[part], k[part], half_wa_t, scale), v[part], out=out[part])
    return out


def _probs(q: torch.Tensor, k: torch.Tensor, half_wa_t: torch.Tensor | None, scale: float) -> torch.Tensor:
    """Attention probabilities ``(G, N_q, N_k)`` (a transposed view when built keys-major).

    Up to ``KEYS_MAJOR_MAX`` tokens (the joints) the logits are built keys-major and the softmax
    runs over dim 1; above, query-major with the last-dim softmax, which is then the faster one
    (27 frames: 2.4 vs 3.6 ms for 2176 sequences x 8 heads, measured), the star term as one
    batched matmul of the broadcast ``0.5 Wa``.
    """
    G, N, d = q.shape
    if N <= KEYS_MAJOR_MAX:
        return keys_major_logits(q, k, half_wa_t, scale).softmax(dim=1).transpose(1, 2)
    if half_wa_t is None:
        logits = torch.baddbmm(q.new_empty(G, N, N), q, k.transpose(1, 2), beta=0.0, alpha=scale)
    else:
        star = torch.bmm(half_wa_t.t().expand(G, N, d), (q * k).transpose(1, 2))
        logits = star.baddbmm_(q, k.transpose(1, 2), alpha=0.5 * scale)
    return logits.softmax(dim=2)


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


__all__ = ["attend", "attend_heads", "keys_major_logits", "CHUNK_BYTES"]
