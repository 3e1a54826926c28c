"""Compiled row-wise passes of a transformer block on the CPU, with autograd: LayerNorm (also
writing its rows regrouped for the next block), a residual connection with the LayerNorm after
it (:func:`add_norm`) or alone (:func:`add_bias`), and bias + GELU. Each does in one pass what
torch does in several (the linear layer before it runs without its bias, which the pass adds),
with a hand-written backward that sums the parameter gradients per thread and then in thread
order (the same bits for the same thread count). All are in the library of
:mod:`.fused_cpu`; each function steps aside (returns None, or its ``*_covers`` says no) where
the library is off or the call is not fp32 on the CPU, under autocast, tracing or
``torch.compile``. Measured side by side, small star training step, two threads: LayerNorm
x1.010, bias + GELU x1.028, the regrouping x1.054, the residual passes x1.043
(docs/performance.md, "fifth pass").
"""
from __future__ import annotations

import torch

from starpose.models.kernels.fused_cpu import check, library, pointer


def _runs_here(x: torch.Tensor) -> bool:
    """The conditions every pass here shares: the library loaded, ``x`` fp32 on the CPU, no
    autocast, tracing or ``torch.compile``."""
    return (library() is not None and x.dtype == torch.float32 and x.device.type == "cpu"
            and not torch.is_autocast_enabled("cpu") and not torch.jit.is_tracing()
            and not torch.compiler.is_compiling())


def _fp32_vectors(C: int, *params: torch.Tensor | None) -> bool:
    return all(p is None or (p.dtype == torch.float32 and p.shape == (C,)) for p in params)


def layer_norm(x: torch.Tensor, weight: torch.Tensor | None, bias: torch.Tensor | None,
               eps: float, regroup: tuple[int, int] | None = None) -> torch.Tensor | None:
    """LayerNorm over the last dim of ``x`` (fp32, contiguous, on the CPU), with autograd where
    ``x``, ``weight`` or ``bias`` needs a gradient; or None where the kernel is off or does not
    cover the call (the caller then runs ``F.layer_norm``): other dtypes, autocast, no affine
    parameters, tracing, ``torch.compile``.

    ``regroup=(P, Q)``: the rows of ``x``, ordered ``(A, P, Q)``, are written in ``(A, Q, P)``
    order (what MixSTE does to its tokens between a spatial and a temporal block, here done by
    the write instead of a copy; in the backward, by the read). The output has ``x``'s shape
    either way.

    Forward: two passes per row (the mean, then the variance of ``x - mean``) in vector-wide
    partial sums. Backward (from the kept row means and ``1/std``): ``dx`` per row, ``dw`` and
    ``db`` summed per thread and then over the threads in order (the same bits for the same
    thread count). Equal to ``F.layer_norm`` and its gradients to ~1e-6 relative."""
    C = x.shape[-1] if x.dim() else 0
    P, Q = regroup or (1, 1)
    if (not _runs_here(x) or C < 1 or not x.is_contiguous() or weight is None or bias is None
            or not _fp32_vectors(C, weight, bias) or P < 1 or Q < 1 or (x.numel() // C) % (P * Q)):
        return None
    if torch.is_grad_enabled() and (x.requires_grad or weight.requires_grad or bias.requires_grad):
        return _LayerNorm.apply(x, weight, bias, float(eps), P, Q)
    return _layer_norm_forward(x, weight, bias, float(eps), False, P, Q)[0]


def _layer_norm_forward(x, weight, bias, eps: float, keep: bool, P: int = 1, Q: int = 1):
    """``(out, mean, rstd)``; the row statistics only where ``keep``."""
    C = x.shape[-1]
    rows = x.numel() // C
    w, b = weight.detach().contiguous(), bias.detach().contiguous()
    out = torch.empty_like(x)
    mean = torch.empty(rows) if keep else None
    rstd = torch.empty(rows) if keep else None
    check(library().starpose_layer_norm(x.data_ptr(), out.data_ptr(), w.data_ptr(), b.data_ptr(), rows, C, eps,
                                        pointer(mean), pointer(rstd), P, Q, torch.get_num_threads()))
    return out, mean, rstd


def _layer_norm_backward(x, grad_out, mean, rstd, weight, regroup=(1, 1), add=None, with_dsum: bool = False):
    """``(dx, dw, db, dsum)`` of the LayerNorm of ``x`` (its kept ``mean``, ``rstd``);
    ``add``: a gradient added to ``dx``; ``dsum`` (where asked): the sum of ``dx`` over the rows."""
    C = x.shape[-1]
    grad_out = grad_out.contiguous()
    add = None if add is None else add.contiguous()
    dx = torch.empty_like(x)
    dw, db = torch.empty(C), torch.empty(C)
    dsum = torch.empty(C) if with_dsum else None
    check(library().starpose_layer_norm_backward(
        x.data_ptr(), grad_out.data_ptr(), mean.data_ptr(), rstd.data_ptr(), weight.detach().contiguous().data_ptr(),
        pointer(add), dx.data_ptr(), dw.data_ptr(), db.data_ptr(), pointer(dsum), x.numel() // C, C, *regroup,
        torch.get_num_threads()))
    return dx, dw, db, dsum


class _LayerNorm(torch.autograd.Function):
    """:func:`layer_norm` with autograd: x, its row statistics and the weight kept."""

    @staticmethod
    def forward(ctx, x, weight, bias, eps: float, P: int, Q: int):
        out, mean, rstd = _layer_norm_forward(x, weight, bias, eps, True, P, Q)
        ctx.save_for_backward(x, weight, mean, rstd)
        ctx.regroup = P, Q
        return out

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_out):
        x, weight, mean, rstd = ctx.saved_tensors
        dx, dw, db, _ = _layer_norm_backward(x, grad_out, mean, rstd, weight, ctx.regroup)
        return dx, dw, db, None, None, None


def residual_covers(x: torch.Tensor, *params: torch.Tensor | None) -> bool:
    """Whether :func:`add_norm` and :func:`add_bias` run on residual streams like ``x`` with
    these parameters (biases, LayerNorm weights; None for an absent bias): fp32, contiguous, on
    the CPU, parameters of ``x``'s last dim; no autocast, tracing or ``torch.compile``."""
    C = x.shape[-1] if x.dim() else 0
    return _runs_here(x) and C > 0 and x.is_contiguous() and _fp32_vectors(C, *params)


def _check_residual(x: torch.Tensor, y: torch.Tensor, *params) -> None:
    if not (residual_covers(x, *params) and y.shape == x.shape and y.dtype == x.dtype and y.is_contiguous()):
        raise ValueError(f"the compiled residual kernels do not cover x {tuple(x.shape)} ({x.dtype}), "
                         f"y {tuple(y.shape)} ({y.dtype})")


def add_norm(x: torch.Tensor, y: torch.Tensor, bias: torch.Tensor | None, weight: torch.Tensor,
             norm_bias: torch.Tensor, eps: float) -> tuple[torch.Tensor, torch.Tensor]:
    """A residual connection and the LayerNorm after it in one pass: ``s = x + y + bias``
    (``bias``: the last linear layer's of the branch ``y``, which was computed without it, or
    None) and ``LayerNorm(s)`` with ``weight``, ``norm_bias``, ``eps``; returns ``(s, norm)``.
    The backward writes the residual stream's gradient once (the LayerNorm's input gradient plus
    ``s``'s own), and ``bias``'s gradient is its sum over the rows, in the same pass. The
    LayerNorm's sums are :func:`layer_norm`'s. Only where :func:`residual_covers` (a ValueError
    otherwise)."""
    _check_residual(x, y, bias, weight, norm_bias)
    return _AddNorm.apply(x, y, bias, weight, norm_bias, float(eps))


def add_bias(x: torch.Tensor, y: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
    """``x + y + bias`` in one pass (``y``: a branch computed without its last bias), with
    autograd. Only where :func:`residual_covers` (a ValueError otherwise)."""
    _check_residual(x, y, bias)
    return _AddBias.apply(x, y, bias)


def _add_norm_forward(x, y, bias, weight=None, norm_bias=None, eps: float = 0.0):
    """``(s, out, mean, rstd)``: ``s = x + y (+ bias)`` and, where ``weight`` is given, its
    LayerNorm and row statistics (else None)."""
    C = x.shape[-1]
    rows = x.numel() // C
    s = torch.empty_like(x)
    out = mean = rstd = w = b = None
    bias = None if bias is None else bias.detach().contiguous()
    if weight is not None:
        out, mean, rstd = torch.empty_like(x), torch.empty(rows), torch.empty(rows)
        w, b = weight.detach().contiguous(), norm_bias.detach().contiguous()
    check(library().starpose_add_norm(x.data_ptr(), y.data_ptr(), pointer(bias), s.data_ptr(), pointer(out),
                                      pointer(w), pointer(b), rows, C, eps, pointer(mean), pointer(rstd),
                                      torch.get_num_threads()))
    return s, out, mean, rstd


class _AddNorm(torch.autograd.Function):
    """:func:`add_norm` with autograd: ``s``, its row statistics and the LayerNorm weight kept."""

    @staticmethod
    def forward(ctx, x, y, bias, weight, norm_bias, eps: float):
        s, out, mean, rstd = _add_norm_forward(x, y, bias, weight, norm_bias, eps)
        ctx.save_for_backward(s, weight, mean, rstd)
        ctx.with_bias = bias is not None
        return s, out

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_s, grad_out):
        s, weight, mean, rstd = ctx.saved_tensors
        grad_out = torch.zeros_like(s) if grad_out is None else grad_out
        dx, dw, db, dbias = _layer_norm_backward(s, grad_out, mean, rstd, weight, add=grad_s,
                                                 with_dsum=ctx.with_bias)
        return dx, dx, dbias, dw, db, None


class _AddBias(torch.autograd.Function):
    """:func:`add_bias` with autograd."""

    @staticmethod
    def forward(ctx, x, y, bias):
        ctx.with_bias = bias is not None
        return _add_norm_forward(x, y, bias)[0]

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad):
        dbias = grad.reshape(-1, grad.shape[-1]).sum(0) if ctx.with_bias and ctx.needs_input_grad[2] else None
        return grad, grad, dbias


def bias_gelu_covers(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> bool:
    """Whether the linear layer ``x @ weight^T`` (without its ``bias``) followed by
    :func:`bias_gelu` runs here: fp32 input and parameters on the CPU, no autocast, tracing or
    ``torch.compile``."""
    return (_runs_here(x) and bias is not None and x.dim() >= 1 and weight.dtype == torch.float32
            and weight.dim() == 2 and x.shape[-1] == weight.shape[1]
            and _fp32_vectors(weight.shape[0], bias))


def bias_gelu(h: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    """``F.gelu(h + bias)`` (the exact, erf form) in one pass, with autograd: the backward
    writes ``dh`` and sums it over the rows for ``dbias`` in the same pass. An MLP's first
    linear layer computed without its bias hands its output here, which spares the bias's
    broadcast copy in the matrix product and the separate sum over the tokens in its backward.
    erf is Abramowitz and Stegun 7.1.26, the formula of torch's vectorised erf: equal to
    ``F.gelu`` to ~1e-6. fp32, contiguous, on the CPU (a ValueError otherwise)."""
    if (library() is None or h.dtype != torch.float32 or h.device.type != "cpu" or not h.is_contiguous()
            or h.dim() < 1 or bias is None or not _fp32_vectors(h.shape[-1], bias)):
        raise ValueError(f"the compiled GELU does not cover h {tuple(h.shape)} ({h.dtype}) with bias "
                         f"{None if bias is None else tuple(bias.shape)}")
    if torch.is_grad_enabled() and (h.requires_grad or bias.requires_grad):
        return _BiasGelu.apply(h, bias)
    return _bias_gelu_forward(h, bias)


def _bias_gelu_forward(h: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    C = h.shape[-1]
    b = bias.detach().contiguous()
    out = torch.empty_like(h)
    check(library().starpose_bias_gelu(h.data_ptr(), b.data_ptr(), out.data_ptr(), h.numel() // C, C,
                                       torch.get_num_threads()))
    return out


class _BiasGelu(torch.autograd.Function):
    """:func:`bias_gelu` with autograd: ``h`` (before the bias) and the bias kept."""

    @staticmethod
    def forward(ctx, h, bias):
        ctx.save_for_backward(h, bias)
        return _bias_gelu_forward(h, bias)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_out):
        h, bias = ctx.saved_tensors
        grad_out = grad_out.contiguous()
        C = h.shape[-1]
        dh = torch.empty_like(h)
        db = torch.empty(C)
        check(library().starpose_bias_gelu_backward(h.data_ptr(), bias.detach().contiguous().data_ptr(),
                                                    grad_out.data_ptr(), dh.data_ptr(), db.data_ptr(),
                                                    h.numel() // C, C, torch.get_num_threads()))
        return dh, db


__all__ = ["add_bias", "add_norm", "bias_gelu", "bias_gelu_covers", "layer_norm", "residual_covers"]
