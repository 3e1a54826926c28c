"""Memory-lean compositions for the fused path: recompute cheap intermediates in backward.

In a pre-norm block the LayerNorm output feeds a Linear and the GELU output feeds a Linear. Run
as separate modules, autograd keeps both the input and the output of each element-wise step
alive until backward: per block that is two ``(tokens, dim)`` LayerNorm outputs and one
``(tokens, mlp_ratio * dim)`` GELU output (about 4 of the ~13 token-sized tensors a block
saves). The two functions here save only the inputs (plus the LayerNorm statistics) and
recompute the element-wise outputs in backward, which costs one LayerNorm or GELU forward, a
small fraction of the matrix products around it. Values and gradients are those of the plain
modules (the same kernels run); only fp32/fp64 without autocast takes this path, and only for
activations of at least :data:`MIN_ELEMENTS` (see :func:`applies`).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


#: Smallest block input (elements) worth recomputing for: 2**22 fp32 values = 16 MiB. Below it
#: the memory saved is small and the recomputation's per-op overhead costs ~4 % of a CPU
#: training step (measured at 27 frames, dim 64, 32 windows); the paper configuration with 4
#: windows has 8.5 M elements per activation.
MIN_ELEMENTS = 2**22


def applies(x: torch.Tensor) -> bool:
    """Large activations, full precision and no autocast (backward then sees forward's dtypes)."""
    return (x.numel() >= MIN_ELEMENTS and x.dtype in (torch.float32, torch.float64)
            and not torch.is_autocast_enabled(x.device.type))


def norm_linear(x: torch.Tensor, norm: nn.LayerNorm, linear: nn.Linear) -> torch.Tensor:
    """``linear(norm(x))`` saving ``x`` (not the normalised tensor): ``(..., C) -> (..., C_out)``."""
    return _NormLinear.apply(x, norm.weight, norm.bias, norm.eps, linear.weight, linear.bias)


def gelu_linear(h: torch.Tensor, linear: nn.Linear) -> torch.Tensor:
    """``linear(gelu(h))`` (exact GELU) saving ``h`` only: ``(..., H) -> (..., C_out)``."""
    return _GeluLinear.apply(h, linear.weight, linear.bias)


def _linear_backward(grad_out, inputs, weight, has_bias: bool, needs_input: bool):
    """Gradients of ``F.linear(inputs, weight, bias)``: (inputs, weight, bias)."""
    flat_grad = grad_out.reshape(-1, grad_out.shape[-1])
    grad_weight = flat_grad.t().mm(inputs.reshape(-1, inputs.shape[-1]))
    grad_bias = flat_grad.sum(0) if has_bias else None
    grad_inputs = grad_out.matmul(weight) if needs_input else None
    return grad_inputs, grad_weight, grad_bias


class _NormLinear(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, norm_weight, norm_bias, eps: float, weight, bias):
        shape = x.shape[-1:]
        normed, mean, rstd = torch.ops.aten.native_layer_norm(x, shape, norm_weight, norm_bias, eps)
        ctx.save_for_backward(x, mean, rstd, norm_weight, norm_bias, weight)
        ctx.eps, ctx.has_bias = eps, bias is not None
        return F.linear(normed, weight, bias)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_out):
        x, mean, rstd, norm_weight, norm_bias, weight = ctx.saved_tensors
        shape = x.shape[-1:]
        normed = torch.ops.aten.native_layer_norm(x, shape, norm_weight, norm_bias, ctx.eps)[0]
        grad_normed, grad_weight, grad_bias = _linear_backward(grad_out, normed, weight, ctx.has_bias, True)
        del normed
        mask = [ctx.needs_input_grad[0], ctx.needs_input_grad[1], ctx.needs_input_grad[2]]
        grad_x, grad_norm_weight, grad_norm_bias = torch.ops.aten.native_layer_norm_backward(
            grad_normed, x, shape, mean, rstd, norm_weight, norm_bias, mask)
        return grad_x, grad_norm_weight, grad_norm_bias, None, grad_weight, grad_bias


class _GeluLinear(torch.autograd.Function):
    @staticmethod
    def forward(ctx, h, weight, bias):
        ctx.save_for_backward(h, weight)
        ctx.has_bias = bias is not None
        return F.linear(F.gelu(h), weight, bias)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_out):
        h, weight = ctx.saved_tensors
        grad_act, grad_weight, grad_bias = _linear_backward(grad_out, F.gelu(h), weight, ctx.has_bias, True)
        grad_h = torch.ops.aten.gelu_backward(grad_act, h)
        return grad_h, grad_weight, grad_bias


__all__ = ["MIN_ELEMENTS", "applies", "norm_linear", "gelu_linear"]
