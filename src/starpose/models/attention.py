"""Multi-head self-attention: the vanilla form and Star-Attention.

Both modules take tokens ``(B, N, C)`` and return ``(B, N, C)``. They share one channel layout
with the published MixSTE code so that its checkpoints load unchanged: ``qkv`` is one
``Linear(C -> 3C)`` whose output channels are ordered ``(3, num_heads, head_dim)`` (q, k, v, each
split into consecutive heads) and the heads are concatenated in order before ``proj``.

Each module has two paths computing the same function:

* the explicit path builds the ``(N, N)`` logits, softmax and product with v, as published;
* the fused path calls :func:`torch.nn.functional.scaled_dot_product_attention`, which never
  materialises the logits on kernels that support it (flash / memory-efficient attention).
"""
from __future__ import annotations


import torch
import torch.nn.functional as F
from torch import nn


class Attention(nn.Module):
    """Vanilla multi-head self-attention: ``softmax(scale * q @ k^T) @ v``."""

    def __init__(
        self,
        dim: int,
        num_heads: int = 8,
        qkv_bias: bool = True,
        attn_drop: float = 0.0,
        proj_drop: float = 0.0,
        fused: bool = True,
    ):
        super().__init__()
        if dim % num_heads:
            raise ValueError(f"dim {dim} is not divisible by num_heads {num_heads}")
        self.num_heads = num_heads
        self.head_dim = dim // num_heads
        self.scale = self.head_dim**-0.5
        self.fused = fused
        self.qkv = nn.Linear(dim, dim * 3, bias=qkv_bias)
        self.attn_drop = nn.Dropout(attn_drop)
        self.proj = nn.Linear(dim, dim)
        self.proj_drop = nn.Dropout(proj_drop)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, N, C = x.shape
        # (B, N, 3C) -> (3, B, heads, N, head_dim)
        qkv = self.qkv(x).reshape(B, N, 3, self.num_heads, self.head_dim).permute(2, 0, 3, 1, 4)
        q, k, v = qkv.unbind(0)
        out = self._fused(q, k, v) if self.fused else self._explicit(q, k, v)
        out = out.transpose(1, 2).reshape(B, N, C)
        return self.proj_drop(self.proj(out))

    def _dropout_p(self) -> float:
        return self.attn_drop.p if self.training else 0.0

    def logits(self, q: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
        """Attention logits ``(B, heads, N, N)`` of the explicit path."""
        return (q * self.scale) @ k.transpose(-2, -1)

    def _explicit(self, q, k, v):
        attn = self.logits(q, k).softmax(dim=-1)
        return self.attn_drop(attn) @ v

    def _fused(self, q, k, v):
        return F.scaled_dot_product_attention(q, k, v, dropout_p=self._dropout_p(), scale=self.scale)


class StarAttention(Attention):
    """Star-Attention: self-attention with element-wise query-key interactions.

    ``logits = 0.5 * (Wa @ (q * k)^T + scale * q @ k^T)``, i.e.
    ``logit[i, j] = 0.5 * (sum_c Wa[i, c] q[j, c] k[j, c] + scale * sum_c q[i, c] k[j, c])``,
    where ``Wa`` ``(N, head_dim)`` is learned per attention layer and shared by heads and batch
    items, so the layer only accepts sequences of exactly ``seq_len`` tokens.

    The fused path writes the logits as one dot product of ``Q' = [0.5 Wa, 0.5 scale q]`` and
    ``K' = [q * k, k]`` (head_dim doubled) with softmax scale 1.
    """

    def __init__(self, dim: int, seq_len: int, num_heads: int = 8, **kwargs):
        super().__init__(dim, num_heads=num_heads, **kwargs)
        self.seq_len = seq_len
        self.wa = nn.Parameter(torch.empty(seq_len, self.head_dim))
        nn.init.kaiming_normal_(self.wa, mode="fan_in", nonlinearity="relu")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[1] != self.seq_len:
            raise ValueError(
                f"StarAttention was built for {self.seq_len} tokens, got {x.shape[1]}"
            )
        return super().forward(x)

    def logits(self, q: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
        # (N, c) x (B, h, N_j, c) -> (B, h, N_i, N_j)
        star = torch.einsum("ic,bhjc->bhij", self.wa, q * k)
        return 0.5 * (star + (q * self.scale) @ k.transpose(-2, -1))

    def _fused(self, q, k, v):
        wa = self.wa.to(q.dtype).expand(*q.shape[:2], -1, -1)
        q_star = torch.cat([0.5 * wa, (0.5 * self.scale) * q], dim=-1)
        k_star = torch.cat([q * k, k], dim=-1)
        return F.scaled_dot_product_attention(q_star, k_star, v, dropout_p=self._dropout_p(), scale=1.0)


__all__ = ["Attention", "StarAttention"]
