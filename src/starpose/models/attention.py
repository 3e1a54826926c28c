"""Multi-head self-attention: the vanilla form and Star-Attention.

Both modules take tokens ``(B, N, C)`` and return ``(B, N, C)``. They share one channel layout
with the published MixSTE code so that its checkpoints load unchanged: ``qkv`` is one
``Linear(C -> 3C)`` whose output channels are ordered ``(3, num_heads, head_dim)`` (q, k, v, each
split into consecutive heads) and the heads are concatenated in order before ``proj``.

Each module has two paths computing the same function:

* the explicit path builds the ``(N, N)`` logits, softmax and product with v, step by step as
  published (it is the reference);
* the fused path picks, per call, the fastest correct formulation for the device and shape:

  - short sequences on the CPU (``N <= SMALL_SEQ_MAX``, fp32/fp64, no attention dropout):
    :class:`_SmallSeqAttention`, one autograd function with a hand-written backward. It writes
    q, k, v straight from the ``qkv`` output into head-major buffers, builds the logits with one
    batched matmul, and writes the gradients straight back into the ``qkv`` layout. The ``(N, N)``
    matrix is materialised, which at these lengths is cheaper than anything else: there the step
    is bound by memory passes and per-op overhead, not by the matmuls;
  - everything else (CUDA, long sequences, autocast, dropout):
    :func:`torch.nn.functional.scaled_dot_product_attention`, which never materialises the logits
    on the kernels that support the call (flash and memory-efficient attention on CUDA, the
    flash kernel on the CPU).
"""
from __future__ import annotations


import torch
import torch.nn.functional as F
from torch import nn

#: Longest sequence the fused path runs through :class:`_SmallSeqAttention` on the CPU. Longer
#: ones go to SDPA's flash kernel, which keeps memory linear in the sequence length.
SMALL_SEQ_MAX = 128

#: Up to this length :class:`_SmallSeqAttention` stores the logits keys-major (transposed) and
#: runs the softmax over dim 1: measured on a Xeon (AVX-512) with torch 2.13, that softmax kernel
#: beats the last-dim one at 17 tokens (the joints) but not at 24 to 81 (the frames).
KEYS_MAJOR_MAX = 20


class _SmallSeqAttention(torch.autograd.Function):
    """Attention from the raw ``qkv`` projection ``(B, N, 3C)`` to the merged heads ``(B, N, C)``.

    ``wa is None``: vanilla ``softmax(scale q k^T) v``; otherwise Star-Attention with logits
    ``0.5 Wa (q*k)^T + 0.5 scale q k^T``. q, k, v are copied once into head-major ``(B*h, N, d)``
    buffers and the gradients once back into the ``qkv`` layout; everything in between is one
    kernel call per term. The logits are built as the star term plus the q.k term accumulated in
    place (``baddbmm_``), with no broadcast copy of ``Wa``; in the keys-major layout
    (``N <= KEYS_MAJOR_MAX``) the star term and both star gradients ``d(q*k)``, ``dWa`` are
    single flat matmuls over ``(B*h*N, N)``. Saves q, k, v, ``q*k`` and the probabilities.
    """

    @staticmethod
    def forward(ctx, qkv, wa, num_heads: int, scale: float):
        B, N, _ = qkv.shape
        q, k, v = _split_heads(qkv, num_heads)
        keys_major = N <= KEYS_MAJOR_MAX
        u = None if wa is None else q * k
        probs = _logits(q, k, u, wa, scale, keys_major).softmax(dim=1 if keys_major else 2)
        ctx.save_for_backward(q, k, v, u, wa, probs)
        ctx.num_heads, ctx.scale, ctx.keys_major = num_heads, scale, keys_major
        return _merge_heads(torch.bmm(_keys_major(probs, keys_major).transpose(1, 2), v), B)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_out):
        q, k, v, u, wa, probs = ctx.saved_tensors
        B, N, C = grad_out.shape
        keys_major = ctx.keys_major
        grad_o = grad_out.reshape(B, N, ctx.num_heads, -1).transpose(1, 2).reshape(v.shape)
        grads = q.new_empty(3, *q.shape)
        dq, dk, dv = grads.unbind(0)
        probs_t = _keys_major(probs, keys_major)
        torch.bmm(probs_t, grad_o, out=dv)
        grad_probs = torch.bmm(v, grad_o.transpose(1, 2)) if keys_major else torch.bmm(grad_o, v.transpose(1, 2))
        grad_logits = torch._softmax_backward_data(grad_probs, probs, 1 if keys_major else 2, probs.dtype)
        grad_logits_t = _keys_major(grad_logits, keys_major)
        grad_wa, beta = None, 0.0
        if wa is not None:
            grad_wa, beta = _star_backward(grad_logits_t, u, wa, q, k, dq, dk, keys_major), 1.0
        coef = ctx.scale if wa is None else 0.5 * ctx.scale
        dq.baddbmm_(grad_logits_t.transpose(1, 2), k, beta=beta, alpha=coef)
        dk.baddbmm_(grad_logits_t, q, beta=beta, alpha=coef)
        grad_qkv = grads.view(3, B, ctx.num_heads, N, -1).permute(1, 3, 0, 2, 4).reshape(B, N, 3 * C)
        return grad_qkv, grad_wa, None, None


def _keys_major(scores: torch.Tensor, keys_major: bool) -> torch.Tensor:
    """A view ``(B*h, N_keys, N_queries)`` of scores stored either way."""
    return scores if keys_major else scores.transpose(1, 2)


def _logits(q, k, u, wa, scale: float, keys_major: bool) -> torch.Tensor:
    """Logits ``(B*h, N_q, N_k)``, or ``(B*h, N_k, N_q)`` when ``keys_major``.

    Vanilla (``wa is None``): ``scale q k^T``; star: ``0.5 Wa u^T + 0.5 scale q k^T``, u = q*k.
    """
    G, N, d = q.shape
    left, right = (k, q) if keys_major else (q, k)
    if wa is None:
        return q.new_empty(G, N, N).baddbmm_(left, right.transpose(1, 2), beta=0.0, alpha=scale)
    if keys_major:
        star = torch.mm(u.view(-1, d), 0.5 * wa.t()).view(G, N, N)
    else:
        star = torch.bmm((0.5 * wa).expand(G, N, d), u.transpose(1, 2))
    return star.baddbmm_(left, right.transpose(1, 2), alpha=0.5 * scale)


def _split_heads(qkv: torch.Tensor, num_heads: int):
    """q, k, v, each contiguous ``(B*h, N, d)``, from ``qkv`` ``(B, N, 3C)`` in one copy."""
    B, N, C3 = qkv.shape
    d = C3 // (3 * num_heads)
    heads = qkv.view(B, N, 3, num_heads, d).permute(2, 0, 3, 1, 4).contiguous()
    return heads.view(3, B * num_heads, N, d).unbind(0)


def _head_views(qkv: torch.Tensor, num_heads: int):
    """Strided head-major views ``(B, h, N, d)`` of q, k, v inside ``qkv`` ``(B, N, 3C)``."""
    B, N, C3 = qkv.shape
    return qkv.view(B, N, 3, num_heads, C3 // (3 * num_heads)).permute(2, 0, 3, 1, 4).unbind(0)


def _merge_heads(out: torch.Tensor, batch: int) -> torch.Tensor:
    """``(B*h, N, d)`` -> ``(B, N, h*d)``, heads concatenated in order."""
    G, N, d = out.shape
    return out.view(batch, G // batch, N, d).transpose(1, 2).reshape(batch, N, -1)


def _star_backward(grad_logits_t, u, wa, q, k, dq, dk, keys_major: bool):
    """Writes the star term's share of dq, dk and returns dWa ``(N, d)``.

    ``grad_logits_t`` is the keys-major view ``(B*h, N_k, N_q)`` of the logits' gradient; with
    ``u = q * k``: ``du = 0.5 dL^T @ Wa``, ``dWa = 0.5 sum_{batch, heads} dL @ u`` (flat matmuls
    over ``(B*h*N, N)`` when the storage is keys-major), then ``dq = k du``, ``dk = q du`` (the
    q.k term is added after).
    """
    G, N, d = u.shape
    if keys_major:
        flat = grad_logits_t.reshape(-1, N)
        du = torch.mm(flat, 0.5 * wa).view(G, N, d)
        grad_wa = torch.mm(flat.t(), u.view(-1, d)).mul_(0.5)
    else:
        du = torch.bmm(grad_logits_t, (0.5 * wa).expand(G, N, d))
        grad_wa = torch.bmm(grad_logits_t.transpose(1, 2), u).sum(0).mul_(0.5)
    torch.mul(k, du, out=dq)
    torch.mul(q, du, out=dk)
    return grad_wa


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
        """``(B, N, C)`` -> ``(B, N, C)``."""
        return self.attend(self.qkv(x))

    def attend(self, qkv: torch.Tensor) -> torch.Tensor:
        """Everything after the ``qkv`` projection: ``(B, N, 3C)`` -> ``(B, N, C)``."""
        B, N, C = qkv.shape[0], qkv.shape[1], qkv.shape[2] // 3
        if self.fused and self._small_kernel_applies(qkv):
            out = _SmallSeqAttention.apply(qkv, self._star_weight(), self.num_heads, self.scale)
        else:
            q, k, v = _head_views(qkv, self.num_heads)
            out = self._fused(q, k, v) if self.fused else self._explicit(q, k, v)
            out = out.transpose(1, 2).reshape(B, N, C)
        return self.proj_drop(self.proj(out))

    def _star_weight(self) -> torch.Tensor | None:
        return None

    def _small_kernel_applies(self, qkv: torch.Tensor) -> bool:
        """CPU, full precision, no attention dropout, at most ``SMALL_SEQ_MAX`` tokens."""
        return (
            qkv.device.type == "cpu"
            and qkv.dtype in (torch.float32, torch.float64)
            and qkv.shape[1] <= SMALL_SEQ_MAX
            and self._dropout_p() == 0.0
        )

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
    ``K' = [q * k, k]`` (head_dim doubled) with softmax scale 1. Through SDPA, v is zero-padded
    to the same doubled width (and the output cut back) where the flash kernels, which need equal
    q/k/v head dims, would otherwise be skipped: always on the CPU, and in fp16/bf16 on CUDA (in
    fp32 CUDA uses the memory-efficient kernel, which accepts a narrower v).
    """

    def __init__(self, dim: int, seq_len: int, num_heads: int = 8, **kwargs):
        super().__init__(dim, num_heads=num_heads, **kwargs)
        self.seq_len = seq_len
        self.wa = nn.Parameter(torch.empty(seq_len, self.head_dim))
        nn.init.kaiming_normal_(self.wa, mode="fan_in", nonlinearity="relu")

    def attend(self, qkv: torch.Tensor) -> torch.Tensor:
        if qkv.shape[1] != self.seq_len:
            raise ValueError(
                f"StarAttention was built for {self.seq_len} tokens, got {qkv.shape[1]}"
            )
        return super().attend(qkv)

    def _star_weight(self) -> torch.Tensor:
        return self.wa

    def logits(self, q: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
        # (N, c) x (B, h, N_j, c) -> (B, h, N_i, N_j)
        star = torch.einsum("ic,bhjc->bhij", self.wa, q * k)
        return 0.5 * (star + (q * self.scale) @ k.transpose(-2, -1))

    def _fused(self, q, k, v):
        wa = self.wa.to(q.dtype).expand(*q.shape[:2], -1, -1)
        q_star = torch.cat([0.5 * wa, (0.5 * self.scale) * q], dim=-1)
        k_star = torch.cat([q * k, k], dim=-1)
        pad = q.device.type == "cpu" or q.dtype in (torch.float16, torch.bfloat16)
        v_in = F.pad(v, (0, v.shape[-1])) if pad else v
        out = F.scaled_dot_product_attention(q_star, k_star, v_in, dropout_p=self._dropout_p(), scale=1.0)
        return out[..., : v.shape[-1]]


__all__ = ["Attention", "StarAttention", "SMALL_SEQ_MAX", "KEYS_MAJOR_MAX"]
