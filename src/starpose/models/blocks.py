"""Transformer building blocks: LayerNorm, MLP, stochastic depth and the pre-norm block."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from starpose.models import recompute
from starpose.models.attention import ATTENTIONS
from starpose.models.kernels import fused_rows


class LayerNorm(nn.LayerNorm):
    """:class:`torch.nn.LayerNorm` (same parameters, same state dict) that runs the compiled CPU
    kernel where it covers the call (:func:`~starpose.models.kernels.fused_rows.layer_norm`: fp32
    on the CPU, contiguous input, no autocast, no tracing), forward and backward, and
    ``F.layer_norm`` everywhere else. Equal to ``F.layer_norm`` and its gradients to ~1e-6
    relative.

    ``kernel``: the model's attention kernel setting; ``"reference"`` (the published
    computation, op for op: what ``starpose bench`` measures as the published code) always runs
    ``F.layer_norm``.
    """

    def __init__(self, dim: int, eps: float = 1e-5, kernel: str = "auto"):
        super().__init__(dim, eps=eps)
        self.kernel = kernel

    def forward(self, x: torch.Tensor, regroup: tuple[int, int] | None = None) -> torch.Tensor:
        """``x`` ``(..., C)``. ``regroup=(P, Q)``: ``x`` is ``(A * P, Q, C)`` and the result is
        returned regrouped as ``(A * Q, P, C)`` (the order MixSTE's next block wants: joints of
        each frame to frames of each joint and back), written in that order by the compiled
        kernel or copied after ``F.layer_norm``."""
        out = None
        if self.kernel != "reference":
            out = fused_rows.layer_norm(x, self.weight, self.bias, self.eps, regroup)
        if regroup is None:
            return super().forward(x) if out is None else out
        P, Q = regroup
        C = x.shape[-1]
        if out is None:
            return super().forward(x).reshape(-1, P, Q, C).transpose(1, 2).reshape(-1, P, C)
        return out.view(-1, P, C)


class Mlp(nn.Module):
    """``Linear(dim -> hidden) -> GELU -> Linear(hidden -> dim)`` with dropout after each.

    Where the compiled CPU kernels cover the call (``kernel`` other than ``"reference"``, fp32
    on the CPU: :func:`~starpose.models.kernels.fused_rows.bias_gelu_covers`) and ``fuse``,
    the first layer's bias is added by the GELU kernel (one pass, its gradient summed in the
    GELU's backward) instead of inside the matrix product.
    """

    def __init__(self, dim: int, hidden_dim: int, drop: float = 0.0, kernel: str = "auto"):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden_dim)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden_dim, dim)
        self.drop = nn.Dropout(drop)
        self.kernel = kernel

    def forward(self, x: torch.Tensor, fuse: bool = True, fc2_bias: bool = True) -> torch.Tensor:
        """``fuse=False``: the GELU module (whose output recomputation can drop; the block asks
        for it where recomputation applies). ``fc2_bias=False``: without the second layer's bias
        (the caller adds it, e.g. :func:`~starpose.models.kernels.fused_rows.add_bias`; only
        where dropout is off)."""
        if (fuse and self.kernel != "reference" and type(self.act) is nn.GELU and self.act.approximate == "none"
                and fused_rows.bias_gelu_covers(x, self.fc1.weight, self.fc1.bias)):
            hidden = fused_rows.bias_gelu(F.linear(x, self.fc1.weight), self.fc1.bias)
        else:
            hidden = self.act(self.fc1(x))
        if not fc2_bias:
            return F.linear(self.drop(hidden), self.fc2.weight)
        return self.drop(self.fc2(self.drop(hidden)))


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
    ``kernel`` is the attention kernel setting (:mod:`starpose.models.kernels`).

    ``recompute=True``: where :func:`recompute.applies` (large full-precision activations), the
    outputs of both LayerNorms and of the GELU are not kept for backward but recomputed
    (:func:`recompute.recomputed_outputs`); same values and gradients, less memory. Elsewhere,
    where the compiled CPU kernels cover the call and no dropout is active, the two residual
    connections (with the output biases of the attention and of the MLP, and ``norm2`` after the
    first) run as compiled passes (:func:`~starpose.models.kernels.fused_rows.add_norm`,
    :func:`~starpose.models.kernels.fused_rows.add_bias`).
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
        kernel: str = "auto",
        recompute: bool = True,
    ):
        super().__init__()
        self.norm1 = LayerNorm(dim, eps=1e-6, kernel=kernel)
        common = dict(num_heads=num_heads, qkv_bias=qkv_bias, attn_drop=attn_drop, proj_drop=drop, kernel=kernel)
        if attention not in ATTENTIONS:
            raise ValueError(f"attention must be one of {', '.join(ATTENTIONS)}, got {attention!r}")
        self.attn = ATTENTIONS[attention](dim, seq_len=seq_len, **common)
        self.drop_path = DropPath(drop_path)
        self.norm2 = LayerNorm(dim, eps=1e-6, kernel=kernel)
        self.mlp = Mlp(dim, int(dim * mlp_ratio), drop=drop, kernel=kernel)
        self.recompute = recompute

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        cheap = (self.norm1, self.norm2, self.mlp.act)
        large = recompute.applies(x)
        if not large and self._residuals_compiled(x):
            # the same computation with the residual connections in compiled passes: x + attn
            # + proj bias and norm2 of it in one, x + mlp + fc2 bias in another
            branch = self.attn(self.norm1(x), proj_bias=False)
            x, h = fused_rows.add_norm(x, branch, self.attn.proj.bias, self.norm2.weight, self.norm2.bias,
                                      self.norm2.eps)
            return fused_rows.add_bias(x, self.mlp(h, fc2_bias=False), self.mlp.fc2.bias)
        with recompute.recomputed_outputs(cheap, enabled=self.recompute and large):
            x = x + self.drop_path(self.attn(self.norm1(x)))
            # large activations keep the GELU a module, whose output recomputation can drop (the
            # compiled bias + GELU's is kept for fc2), whether this block recomputes or not
            return x + self.drop_path(self.mlp(self.norm2(x), fuse=not large))

    def _residuals_compiled(self, x: torch.Tensor) -> bool:
        """Whether the residual connections run in the compiled passes: not the published
        computation (``reference``), no active dropout on the branches, covered inputs."""
        dropouts_off = not self.training or (self.drop_path.p == 0.0 and self.attn.proj_drop.p == 0.0
                                             and self.mlp.drop.p == 0.0)
        return (self.norm2.kernel != "reference" and dropouts_off
                and fused_rows.residual_covers(x, self.attn.proj.bias, self.mlp.fc2.bias,
                                              self.norm2.weight, self.norm2.bias))
