"""The reference attention kernel: the published math, step by step.

Every other kernel in this package is tested against this one (``tests/test_kernels.py``). It
materialises the ``(B, h, N, N)`` logits:

* vanilla: ``logits = scale * q @ k^T``;
* star: ``logits = 0.5 * (Wa @ (q*k)^T + scale * q @ k^T)``, i.e.
  ``logit[i, j] = 0.5 * (sum_c Wa[i, c] q[j, c] k[j, c] + scale * sum_c q[i, c] k[j, c])``,

then ``softmax(logits) @ v``.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F


def logits(q: torch.Tensor, k: torch.Tensor, wa: torch.Tensor | None = None, *, scale: float) -> torch.Tensor:
    """Attention logits ``(B, h, N, N)`` from q, k ``(B, h, N, d)`` and ``wa`` ``(N, d)`` or None."""
    qk = (q * scale) @ k.transpose(-2, -1)
    if wa is None:
        return qk
    # (N_i, c) x (B, h, N_j, c) -> (B, h, N_i, N_j)
    star = torch.einsum("ic,bhjc->bhij", wa.to(q.dtype), q * k)
    return 0.5 * (star + qk)


def attend(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, wa: torch.Tensor | None = None, *,
           scale: float, dropout_p: float = 0.0) -> torch.Tensor:
    """``softmax(logits) @ v``: q, k, v ``(B, h, N, d)`` -> ``(B, h, N, d)``.

    ``dropout_p`` > 0 drops attention probabilities (training only: the caller passes 0 in eval).
    """
    probs = logits(q, k, wa, scale=scale).softmax(dim=-1)
    if dropout_p > 0:
        probs = F.dropout(probs, dropout_p)
    return probs @ v


__all__ = ["attend", "logits"]
