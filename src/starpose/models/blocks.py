"""Transformer building blocks: MLP, stochastic depth and the pre-norm block."""
from __future__ import annotations

import torch
from torch import nn

from starpose.models import recompute
from starpose.models.attention import Attention, StarAttention


class Mlp(nn.Module):
    """``Linear(dim -> hidden) -> GELU -> Linear(hidden -> dim)`` with dropout after each."""

    def __init__(self, dim: int, hidden_dim: int, drop: float = 0.0):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden_dim)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden_dim, dim)
        self.drop = nn.Dropout(drop)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.drop(self.fc2(self.drop(self.act(self.fc1(x)))))


class DropPath(nn.Module):
    """Stochastic depth: drops the whole residual branch per sample with probability ``p``."""

    def __init__(self, p: float = 0.0):
        super().__init__()
        self.p = p

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.p == 0.0 or not self.training:
            return x
        keep = 1.0 - self.p
        mask = x.new_empty((x.shape[0],) + (1,) * (x.ndim - 1)).bernoulli_(keep)
        return x * mask / keep

    def extra_repr(self) -> str:
        return f"p={self.p}"


class Block(nn.Module):
    """Pre-norm transformer block on tokens ``(B, N, C)``.

    ``x = x + DropPath(Attn(LN(x)))`` then ``x = x + DropPath(MLP(LN(x)))``, LayerNorm eps 1e-6.
    ``attention`` is ``"vanilla"`` or ``"star"``; Star-Attention needs ``seq_len`` (N).

    On the fused path, in full precision and without active dropout, the LayerNorm + Linear and
    GELU + Linear pairs run through :mod:`starpose.models.recompute`, which saves less for
    backward and computes the same function.
    """

    def __init__(
        self,
        dim: int,
        num_heads: int,
        mlp_ratio: float = 2.0,
        qkv_bias: bool = True,
        drop: float = 0.0,
        attn_drop: float = 0.0,
        drop_path: float = 0.0,
        attention: str = "star",
        seq_len: int | None = None,
        fused: bool = True,
    ):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        common = dict(num_heads=num_heads, qkv_bias=qkv_bias, attn_drop=attn_drop, proj_drop=drop, fused=fused)
        if attention == "star":
            if seq_len is None:
                raise ValueError("Star-Attention needs the sequence length (seq_len)")
            self.attn = StarAttention(dim, seq_len, **common)
        elif attention == "vanilla":
            self.attn = Attention(dim, **common)
        else:
            raise ValueError(f"attention must be 'star' or 'vanilla', got {attention!r}")
        self.drop_path = DropPath(drop_path)
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = Mlp(dim, int(dim * mlp_ratio), drop=drop)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self._lean_applies(x):
            x = x + self.drop_path(self.attn.attend(recompute.norm_linear(x, self.norm1, self.attn.qkv)))
            hidden = recompute.norm_linear(x, self.norm2, self.mlp.fc1)
            return x + self.drop_path(recompute.gelu_linear(hidden, self.mlp.fc2))
        x = x + self.drop_path(self.attn(self.norm1(x)))
        return x + self.drop_path(self.mlp(self.norm2(x)))

    def _lean_applies(self, x: torch.Tensor) -> bool:
        dropout_active = self.training and self.mlp.drop.p > 0
        return self.attn.fused and not dropout_active and recompute.applies(x)
