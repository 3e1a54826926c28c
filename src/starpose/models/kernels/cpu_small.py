"""The small-sequence kernel: one autograd function with a hand-written backward.

Built for short sequences on the CPU (the 17 joints, up to ~100 frames), where a training step
is bound by memory passes and per-op overhead rather than by the matmuls. It copies q, k, v once
into head-major ``(B*h, N, d)`` buffers, builds the logits with one batched matmul, materialises
the ``(N, N)`` probabilities (cheaper than anything else at these lengths) and writes dq, dk, dv
into one buffer, so that the caller's head split turns them back into the ``qkv`` layout in a
single copy. No attention dropout.

Where the compiled kernel is built and covers the call (fp32, head dims 16/32/64, up to 128
tokens: :func:`starpose.models.kernels.fused_cpu.covers`), the same function runs there instead:
forward and backward read q, k, v where they lie (no head-major copies), keep the weights for
the backward, and write the output as a view that merges the heads without a copy
(:mod:`.fused_cpu`). The eager autograd function below is the rest (fp64, other head dims).

The star logits are built as the star term plus the q.k term accumulated in place
(``baddbmm_``), with no broadcast copy of ``Wa``. Up to :data:`KEYS_MAJOR_MAX` tokens the logits
are stored keys-major (transposed) and the softmax runs over dim 1; then the star term and both
star gradients ``d(q*k)``, ``dWa`` are single flat matmuls over ``(B*h*N, N)``.
"""
from __future__ import annotations

import torch

from starpose.models.kernels import fused_cpu

#: Up to this length the logits are stored keys-major and the softmax runs over dim 1: measured on
#: a Xeon (AVX-512) with torch 2.13, that softmax kernel beats the last-dim one at 17 tokens (the
#: joints) but not at 24 to 81 (the frames).
KEYS_MAJOR_MAX = 20


def attend(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, wa: torch.Tensor | None = None, *,
           scale: float, dropout_p: float = 0.0) -> torch.Tensor:
    """q, k, v ``(B, h, N, d)`` (any strides), ``wa`` ``(N, d)`` or None -> ``(B, h, N, d)``."""
    if dropout_p > 0:
        raise ValueError("the cpu_small attention kernel has no attention dropout")
    if fused_cpu.covers(q, k, v, wa):  # the compiled forward and backward (fp32, heads of 16/32/64)
        return fused_cpu.attend(q, k, v, wa, scale=scale)
    return _SmallSeqAttention.apply(q, k, v, None if wa is None else wa.to(q.dtype), scale)


class _SmallSeqAttention(torch.autograd.Function):
    """``softmax(logits) @ v`` with ``logits = scale q k^T`` (``wa is None``) or
    ``0.5 Wa (q*k)^T + 0.5 scale q k^T``. Saves q, k, v, ``q*k`` and the probabilities."""

    @staticmethod
    def forward(ctx, q, k, v, wa, scale: float):
        B, h, N, d = q.shape
        keys_major = N <= KEYS_MAJOR_MAX
        # Autocast off: everything runs in the inputs' dtype, as the backward will.
        with torch.autocast(q.device.type, enabled=False):
            q_, k_, v_ = torch.stack((q, k, v)).view(3, B * h, N, d).unbind(0)
            u = None if wa is None else q_ * k_
            probs = _logits(q_, k_, u, wa, scale, keys_major).softmax(dim=1 if keys_major else 2)
            out = torch.bmm(_keys_major(probs, keys_major).transpose(1, 2), v_)
        ctx.save_for_backward(q_, k_, v_, u, wa, probs)
        ctx.scale, ctx.keys_major = scale, keys_major
        return out.view(B, h, N, d)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_out):
        q, k, v, u, wa, probs = ctx.saved_tensors
        keys_major = ctx.keys_major
        grad_o = grad_out.reshape(v.shape)
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
        dq, dk, dv = grads.view(3, *grad_out.shape).unbind(0)
        return dq, dk, dv, grad_wa, None


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


__all__ = ["attend", "KEYS_MAJOR_MAX"]
