"""The SDPA kernel: attention through :func:`torch.nn.functional.scaled_dot_product_attention`.

SDPA never materialises the ``(N, N)`` logits on the backends that take the call (flash and
memory-efficient attention on CUDA, the flash kernel on the CPU), so memory stays linear in N.

Star-Attention is written as one dot product with softmax scale 1: the logits
``0.5 * (Wa @ (q*k)^T + scale * q @ k^T)`` are ``Q' @ K'^T`` with ``Q' = [0.5 Wa, 0.5 scale q]``
and ``K' = [q*k, k]`` (head_dim doubled). The flash kernels need equal q/k/v head dims, so v is
zero-padded to the doubled width (and the output cut back) where they would otherwise be
skipped: always on the CPU, and in fp16/bf16 on CUDA (in fp32 CUDA uses the memory-efficient
kernel, which accepts a narrower v).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F


def attend(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, wa: torch.Tensor | None = None, *,
           scale: float, dropout_p: float = 0.0) -> torch.Tensor:
    """q, k, v ``(B, h, N, d)`` (any strides), ``wa`` ``(N, d)`` or None -> ``(B, h, N, d)``."""
    if wa is None:
        return F.scaled_dot_product_attention(q, k, v, dropout_p=dropout_p, scale=scale)
    wa = wa.to(q.dtype).expand(*q.shape[:2], -1, -1)
    q_star = torch.cat([0.5 * wa, (0.5 * scale) * q], dim=-1)
    k_star = torch.cat([q * k, k], dim=-1)
    pad = q.device.type == "cpu" or q.dtype in (torch.float16, torch.bfloat16)
    v_in = F.pad(v, (0, v.shape[-1])) if pad else v
    out = F.scaled_dot_product_attention(q_star, k_star, v_in, dropout_p=dropout_p, scale=1.0)
    return out[..., : v.shape[-1]]


__all__ = ["attend"]
