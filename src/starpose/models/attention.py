"""Multi-head self-attention modules: the vanilla form and Star-Attention.

Both take tokens ``(B, N, C)`` and return ``(B, N, C)``. A module owns the parameters (``qkv``,
``proj``, and ``wa`` for star), computes q, k, v and hands them to one attention kernel
(:mod:`starpose.models.kernels`), chosen per call by :func:`~starpose.models.kernels.resolve_kernel`
from the module's ``kernel`` setting, the device, dtype and length.

The channel layout is the published MixSTE code's, so that its checkpoints load unchanged:
``qkv`` is one ``Linear(C -> 3C)`` whose output channels are ordered ``(3, num_heads, head_dim)``
(q, k, v, each split into consecutive heads) and the heads are concatenated in order before
``proj``.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from starpose.models.kernels import KERNELS, check_kernel_name, fused_cpu, resolve_kernel


class Attention(nn.Module):
    """Vanilla multi-head self-attention: ``softmax(scale * q @ k^T) @ v``.

    ``kernel``: ``"auto"`` or a kernel name (:data:`starpose.models.kernels.KERNEL_NAMES`).
    ``seq_len``: the tokens per sequence where the layer needs it (Star-Attention); vanilla
    attention takes sequences of any length.
    """

    def __init__(
        self,
        dim: int,
        seq_len: int | None = None,
        num_heads: int = 8,
        qkv_bias: bool = True,
        attn_drop: float = 0.0,
        proj_drop: float = 0.0,
        kernel: str = "auto",
    ):
        super().__init__()
        if dim % num_heads:
            raise ValueError(f"dim {dim} is not divisible by num_heads {num_heads}")
        self.num_heads = num_heads
        self.head_dim = dim // num_heads
        self.scale = self.head_dim**-0.5
        self.kernel = check_kernel_name(kernel)
        self.attn_drop = attn_drop
        self.qkv = nn.Linear(dim, dim * 3, bias=qkv_bias)
        self.proj = nn.Linear(dim, dim)
        self.proj_drop = nn.Dropout(proj_drop)

    def forward(self, x: torch.Tensor, proj_bias: bool = True) -> torch.Tensor:
        """``(B, N, C)`` -> ``(B, N, C)``. ``proj_bias=False``: without the output layer's bias
        (the caller adds it, e.g. :func:`~starpose.models.kernels.fused_rows.add_norm`; only
        where the output dropout is off)."""
        B, N, C = x.shape
        dropout_p = self.attn_drop if self.training else 0.0
        wa = self.star_weight(N)
        if self._compiled_kernel_covers(x, dropout_p, wa):
            # cpu_small's compiled form on the packed qkv, its gradient returned in that layout
            # with no copy (through q, k, v autograd would stack the three into it); the kernel
            # adds the qkv bias as it reads q, k, v and sums its gradient (no broadcast copy in
            # the linear layer, no separate sum over the tokens in its backward)
            qkv = F.linear(x, self.qkv.weight)
            out = fused_cpu.attend_packed(qkv.view(B, N, 3, self.num_heads, self.head_dim), wa,
                                          scale=self.scale, bias=self.qkv.bias)
        else:
            q, k, v = self.split_heads(self.qkv(x))
            name = resolve_kernel(self.kernel, q.device, q.dtype, N, dropout_p)
            out = KERNELS[name](q, k, v, wa, scale=self.scale, dropout_p=dropout_p)
        merged = out.transpose(1, 2).reshape(B, N, C)
        if not proj_bias:
            return F.linear(merged, self.proj.weight)
        return self.proj_drop(self.proj(merged))

    def _compiled_kernel_covers(self, x: torch.Tensor, dropout_p: float, wa: torch.Tensor | None) -> bool:
        """Whether ``cpu_small`` is the kernel for ``x`` and its compiled form covers the layer:
        fp32 input and parameters on the CPU without autocast (so that q, k, v are fp32), heads
        and length that :func:`fused_cpu.covers_shape` covers."""
        weight, bias = self.qkv.weight, self.qkv.bias
        if (x.dtype != torch.float32 or x.device.type != "cpu" or weight.dtype != torch.float32
                or bias is not None and bias.dtype != torch.float32
                or wa is not None and wa.dtype != torch.float32 or torch.is_autocast_enabled("cpu")):
            return False
        N = x.shape[1]
        return (resolve_kernel(self.kernel, x.device, x.dtype, N, dropout_p) == "cpu_small"
                and fused_cpu.covers_shape(self.head_dim, N))

    def split_heads(self, qkv: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """q, k, v: strided ``(B, h, N, d)`` views into ``qkv`` ``(B, N, 3C)``.

        Split on the ``3`` axis before moving the heads forward, so that backward assembles the
        three gradients into the ``qkv`` layout with a single copy.
        """
        B, N, _ = qkv.shape
        parts = qkv.view(B, N, 3, self.num_heads, self.head_dim).unbind(2)
        return tuple(t.transpose(1, 2) for t in parts)

    def star_weight(self, seq_len: int) -> torch.Tensor | None:
        """``Wa`` ``(N, d)`` for Star-Attention; None here."""
        return None

    def extra_repr(self) -> str:
        return f"heads={self.num_heads}, kernel={self.kernel!r}, attn_drop={self.attn_drop}"


class StarAttention(Attention):
    """Star-Attention: self-attention with element-wise query-key interactions.

    ``logits = 0.5 * (Wa @ (q * k)^T + scale * q @ k^T)``, i.e.
    ``logit[i, j] = 0.5 * (sum_c Wa[i, c] q[j, c] k[j, c] + scale * sum_c q[i, c] k[j, c])``,
    where ``Wa`` ``(N, head_dim)`` is learned per attention layer and shared by heads and batch
    items, so the layer only accepts sequences of exactly ``seq_len`` tokens.
    """

    def __init__(self, dim: int, seq_len: int | None = None, num_heads: int = 8, **kwargs):
        if seq_len is None:
            raise ValueError("Star-Attention needs the sequence length (seq_len)")
        super().__init__(dim, num_heads=num_heads, **kwargs)
        self.seq_len = seq_len
        self.wa = nn.Parameter(torch.empty(seq_len, self.head_dim))
        nn.init.kaiming_normal_(self.wa, mode="fan_in", nonlinearity="relu")

    def star_weight(self, seq_len: int) -> torch.Tensor:
        if seq_len != self.seq_len:
            raise ValueError(f"StarAttention was built for {self.seq_len} tokens, got {seq_len}")
        return self.wa


#: The attention layers MixSTE can be built with (``MixSTEConfig.attention``).
ATTENTIONS: dict[str, type[Attention]] = {"vanilla": Attention, "star": StarAttention}

__all__ = ["ATTENTIONS", "Attention", "StarAttention"]
