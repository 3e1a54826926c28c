"""The CPU inference path of MixSTE: the same function as ``MixSTE.forward``, fewer memory passes.

Taken by :meth:`MixSTE.forward <starpose.models.mixste.MixSTE.forward>` when :func:`applies`
(eval mode, grad disabled, CPU, fp32/fp64 without autocast or fp32 under bf16 autocast,
kernel setting ``auto`` or ``inference``, not under tracing or ``torch.compile``). It reads the
model's parameters at each call (the one thing kept between calls, the linear layers' weights
in oneDNN's blocked layout, is packed again when a weight changes, so changed weights are seen
at the next call) and differs from the module forward only in how the work is laid out:

* the tokens stay in one ``(B, F, J, C)`` layout for the whole pass. Per-token layers
  (LayerNorm, the linear layers, GELU) do not care about the order; the spatial and temporal
  attention read their sequences (joints of a frame, frames of a joint) out of it in the one
  head-split copy they need anyway, and write back into it in the head-merge copy. The two
  regrouping copies per stage of the module forward disappear;
* q, k, v come out of that one copy as head-major ``(G, N, d)`` blocks (no ``stack``/``cat``);
* where oneDNN's fused linear is available (:data:`FUSED_LINEAR`, fp32), ``fc1`` runs with its
  GELU and ``proj``, ``fc2`` with the residual addition in one call each (no separate pass
  over the activations), with weights packed once in oneDNN's blocked layout instead of
  reordered at every call (3-5 % of a whole forward at the small configuration, 1 and 2 threads,
  measured side by side: 1.03-1.05x; outputs identical);
* a large batch goes through in blocks of windows whose activations ``(b, F, J, C)`` fit in
  :data:`BLOCK_BYTES` (about a core's L2 cache): every layer's output is then read by the next
  one while it is still in cache. Measured on the 2-core Xeon (2 MiB of L2 per core), two
  threads: the bundled model (27 frames, width 64) lifted 1,841 frames/s in forwards of
  256 windows (128 and their flipped copies) and 4,409 in forwards of 16; an 81-frame width-128
  model 661 frames/s in forwards of 128 windows and 1,479 in forwards of 4. One thread: no
  difference at width 64 (2,424-2,481 frames/s for batches of 16-64). With more threads the
  block grows (:func:`block_bytes`): at two threads, width 128, 27 frames, blocks of 8 MiB
  against 2 MiB ran 6 % faster at 64 windows and 5 % at 16, side by side; at one thread 2 MiB
  stayed best (2 % ahead of 8 MiB at 64 windows);
* attention runs through the compiled kernel (:func:`starpose.models.kernels.fused_cpu.attention`:
  q, k, v read straight from the ``qkv`` rows and the output written straight into the token
  order, no head-split or head-merge copy) where it is built and covers the call (fp32, head
  dims 16/32/64, up to 128 tokens); otherwise through
  :func:`starpose.models.kernels.inference.attend_heads` (logits in
  L2-sized chunks of sequences, the star term as one matmul), except vanilla attention over
  more than :data:`~starpose.models.kernels.SMALL_SEQ_MAX` tokens, where SDPA's CPU flash
  kernel is faster (paper size, 243 frames, one core: vanilla 33 vs 37 ms, star 52 ms chunked
  vs 70 ms through SDPA with the doubled head dim, per layer and window, measured).

Under bf16 autocast the matrix products run in bf16 (weights cast per call) and the residual
stream, the LayerNorms, the embeddings and the head in fp32. On CPUs with native bf16
(:mod:`starpose.inference.cpu_features`) that doubles the speed of the linear layers; the outputs then
differ from fp32 by ~1e-2 relative, as under autocast through the module forward.

Outputs equal the module forward's with the ``reference`` kernel to 1e-5 relative in fp32
(``tests/test_inference_path.py``).
"""
from __future__ import annotations

import weakref

import torch
import torch.nn.functional as F

from starpose.models.kernels import SMALL_SEQ_MAX, fused_cpu, fused_rows, sdpa
from starpose.models.kernels.inference import attend_heads

#: The kernel settings under which the model takes this path.
KERNEL_SETTINGS = ("auto", "inference")

#: Most bytes of activations ``(b, F, J, C)`` (at the input's precision) per block of windows
#: at one thread; :func:`block_bytes` scales it with the thread count.
BLOCK_BYTES = 2 * 2**20


def block_bytes(threads: int) -> int:
    """The block size at ``threads`` torch threads: :data:`BLOCK_BYTES` at one, twice that per
    thread above (8 MiB at two, measured best there: the module docstring)."""
    return BLOCK_BYTES if threads <= 1 else 2 * BLOCK_BYTES * threads


def _has_fused_linear() -> bool:
    """Whether oneDNN's fused linear (``torch.ops.mkldnn._linear_pointwise``) runs here."""
    if not torch.backends.mkldnn.is_available():
        return False
    try:
        x, w = torch.ones(2, 4), torch.ones(3, 4)
        out = torch.ops.mkldnn._linear_pointwise.binary(x, torch.zeros(2, 3), w, None, "add")
        gelu = torch.ops.mkldnn._linear_pointwise(x, w, None, "gelu", [], "none")
    except (AttributeError, RuntimeError, NotImplementedError):
        return False
    return bool((out == 4).all()) and bool(torch.allclose(gelu, F.gelu(out)))


#: oneDNN's fused linear + GELU / + residual is used (fp32 only).
FUSED_LINEAR = _has_fused_linear()


def applies(model, x: torch.Tensor) -> bool:
    """Whether ``model(x)`` takes this path (see the module docstring)."""
    autocast = torch.is_autocast_enabled("cpu")
    return (not model.training and not torch.is_grad_enabled() and x.device.type == "cpu"
            and (x.dtype in (torch.float32, torch.float64) and not autocast
                 or x.dtype == torch.float32 and autocast and torch.get_autocast_dtype("cpu") == torch.bfloat16)
            and model.config.attention_kernel in KERNEL_SETTINGS
            and not torch.jit.is_tracing() and not torch.compiler.is_compiling())


def forward(model, x: torch.Tensor) -> torch.Tensor:
    """``(B, F, J, in_chans)`` -> ``(B, F, J, 3)``, as ``model.forward`` in eval mode.

    Under bf16 autocast the matrix products (linear layers, attention) run in bf16 and the
    residual stream, LayerNorms, embeddings and head in fp32.
    """
    low = torch.bfloat16 if torch.is_autocast_enabled("cpu") else x.dtype
    per_window = x.shape[1] * x.shape[2] * model.config.dim * x.element_size()
    block = max(1, block_bytes(torch.get_num_threads()) // per_window)
    with torch.autocast("cpu", enabled=False):  # every dtype below is chosen explicitly
        if x.shape[0] <= block:
            return _forward(model, x, low)
        return torch.cat([_forward(model, part, low) for part in x.split(block)])


def _forward(model, x: torch.Tensor, low: torch.dtype) -> torch.Tensor:
    B, Fr, J, C_in = x.shape
    dim = model.config.dim
    tokens = F.linear(x.reshape(-1, C_in), model.joint_embed.weight, model.joint_embed.bias)
    tokens = (tokens.view(B, Fr, J, dim) + model.spatial_pos_embed).view(-1, dim)
    shape = (B, Fr, J)
    for stage, (spatial, temporal) in enumerate(zip(model.spatial_blocks, model.temporal_blocks)):
        tokens = _layer_norm(_block(spatial, tokens, shape, "joints", low), model.spatial_norm)
        if stage == 0:
            tokens = (tokens.view(B, Fr, J, dim) + model.temporal_pos_embed.view(1, Fr, 1, dim)).view(-1, dim)
        tokens = _layer_norm(_block(temporal, tokens, shape, "frames", low), model.temporal_norm)
    out = F.linear(_layer_norm(tokens, model.head_norm), model.head.weight, model.head.bias)
    return out.view(B, Fr, J, 3)


def _layer_norm(x: torch.Tensor, norm, dtype: torch.dtype | None = None) -> torch.Tensor:
    """LayerNorm in ``x``'s precision, the result in ``dtype`` (default: ``x``'s); in fp32 through
    the compiled kernel where it is on (:func:`~starpose.models.kernels.fused_rows.layer_norm`)."""
    out = fused_rows.layer_norm(x, norm.weight, norm.bias, norm.eps)
    if out is None:
        out = F.layer_norm(x, norm.normalized_shape, norm.weight, norm.bias, norm.eps)
    return out if dtype in (None, out.dtype) else out.to(dtype)


def _block(block, x: torch.Tensor, shape: tuple[int, int, int], over: str, low: torch.dtype) -> torch.Tensor:
    """One pre-norm block on tokens ``(B*F*J, C)`` in ``(B, F, J)`` order, attention ``over``
    ``"joints"`` (spatial) or ``"frames"`` (temporal); matrix products in ``low``."""
    attn = block.attn
    mixed = _attention(_linear(_layer_norm(x, block.norm1, low), attn.qkv), shape, over, attn)
    x = _linear_add(mixed, attn.proj, x)
    hidden = _linear_gelu(_layer_norm(x, block.norm2, low), block.mlp.fc1)
    return _linear_add(hidden, block.mlp.fc2, x)


def _onednn(x: torch.Tensor) -> bool:
    return FUSED_LINEAR and x.dtype in (torch.float32, torch.bfloat16)


def _params(linear, dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
    """The weight and bias of ``linear`` in ``dtype`` (cast per call: nothing is cached)."""
    return linear.weight.to(dtype), linear.bias.to(dtype)


#: Rows the packed weights are laid out for (oneDNN's hint; any row count runs with them).
PACK_ROWS = 4096


#: Linear layer -> {dtype: (what it was packed from, packed weight, bias)}: beside the modules,
#: not on them, so that copying or pickling a model never meets oneDNN's opaque tensors. One
#: entry per dtype: a model run in fp32 and under bf16 autocast by turns keeps both packings.
_PACKED: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def forget_packed(model: torch.nn.Module) -> None:
    """Drop the packed weights of ``model``'s linear layers (:meth:`MixSTE.train` calls it on
    every switch between training and evaluation): an update that does not move the version
    counter (torch's fused optimisers, writes through ``.data``) is then never served stale by a
    later evaluation."""
    for module in model.modules():
        _PACKED.pop(module, None)


def _packed(linear, dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
    """``linear``'s weight in oneDNN's blocked layout and its bias, in ``dtype``: packed once and
    kept until the weight changes (another tensor, or its version counter moved: an optimiser
    step, ``load_state_dict``, any in-place write) or the model switches between training and
    evaluation (:func:`forget_packed`)."""
    weight, bias = linear.weight.detach(), linear.bias.detach()
    pack = lambda: (torch.ops.mkldnn._reorder_linear_weight(weight.to(dtype), PACK_ROWS), bias.to(dtype))
    if weight.is_inference() or bias.is_inference():  # no version counter to watch: pack per call
        return pack()
    key = (weight.data_ptr(), weight._version, bias.data_ptr(), bias._version)
    by_dtype = _PACKED.setdefault(linear, {})
    if dtype not in by_dtype or by_dtype[dtype][0] != key:
        by_dtype[dtype] = (key, *pack())
    return by_dtype[dtype][1:]


def _linear(x: torch.Tensor, linear) -> torch.Tensor:
    """``linear(x)`` in ``x``'s precision; through oneDNN where available (faster than the
    default BLAS here: 101 vs 91 GFLOP/s for the paper's ``qkv``, one core, measured)."""
    if _onednn(x):
        return torch.ops.mkldnn._linear_pointwise(x, *_packed(linear, x.dtype), "none", [], "")
    return F.linear(x, *_params(linear, x.dtype))


def _linear_add(x: torch.Tensor, linear, residual: torch.Tensor) -> torch.Tensor:
    """``residual + linear(x)`` in ``residual``'s precision (``linear`` in ``x``'s)."""
    if _onednn(x) and x.dtype == residual.dtype:
        return torch.ops.mkldnn._linear_pointwise.binary(x, residual, *_packed(linear, x.dtype), "add")
    if x.dtype == residual.dtype:
        return torch.addmm(linear.bias, x, linear.weight.t()).add_(residual)
    return residual + _linear(x, linear)


def _linear_gelu(x: torch.Tensor, linear) -> torch.Tensor:
    """``gelu(linear(x))`` (exact, erf GELU) in ``x``'s precision."""
    if _onednn(x):
        return torch.ops.mkldnn._linear_pointwise(x, *_packed(linear, x.dtype), "gelu", [], "none")
    return F.gelu(F.linear(x, *_params(linear, x.dtype)))


def _attention(qkv: torch.Tensor, shape: tuple[int, int, int], over: str, attn) -> torch.Tensor:
    """Multi-head attention of tokens ``qkv`` ``(B*F*J, 3C)`` (``(B, F, J)`` order) over the
    joints of each frame or the frames of each joint -> ``(B*F*J, C)`` in the same order."""
    B, Fr, J = shape
    h, d = attn.num_heads, attn.head_dim
    N = J if over == "joints" else Fr
    if fused_cpu.supports(qkv, d, N):  # one pass, no copies (fp32, built, head dim 16/32/64)
        return fused_cpu.attention(qkv, shape, over, h, d, attn.scale, attn.star_weight(N))
    if over == "joints":  # sequences (B, F), positions J: q, k, v (3, h, B*F, J, d)
        heads_first = qkv.view(-1, 3 * h, d).transpose(0, 1)
    else:  # sequences (B, J), positions F: q, k, v (3, B, J, h, F, d)
        heads_first = qkv.view(B, Fr, J, 3, h, d).permute(3, 0, 2, 4, 1, 5)
    q, k, v = heads_first.reshape(3, -1, N, d).unbind(0)  # the one copy
    del qkv, heads_first  # freed now: the peak holds one copy of q, k, v, not two
    wa = attn.star_weight(N)
    if wa is None and N > SMALL_SEQ_MAX:
        out = sdpa.attend(q.unsqueeze(0), k.unsqueeze(0), v.unsqueeze(0), None, scale=attn.scale)[0]
    else:
        out = attend_heads(q, k, v, wa, scale=attn.scale)
    if over == "joints":  # (h, B*F*J, d) -> (B*F*J, h, d)
        return out.view(h, -1, d).transpose(0, 1).reshape(-1, h * d)
    return out.view(B, J, h, Fr, d).permute(0, 3, 1, 2, 4).reshape(-1, h * d)


__all__ = ["FUSED_LINEAR", "KERNEL_SETTINGS", "applies", "forget_packed", "forward"]
