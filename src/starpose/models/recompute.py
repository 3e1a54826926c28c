"""Recomputing cheap outputs in backward instead of keeping them: :func:`recomputed_outputs`.

In a pre-norm block the LayerNorm outputs feed Linears (``qkv``, ``fc1``) and the GELU output
feeds ``fc2``; each Linear keeps its input for its weight gradient, while the LayerNorm and the
GELU keep their own inputs. Per block that is two ``(tokens, dim)`` LayerNorm outputs and one
``(tokens, mlp_ratio * dim)`` GELU output stored only because a Linear follows (about 4 of the
~13 token-sized tensors a block saves). Inside :func:`recomputed_outputs` autograd stores, in
place of such an output, a note to recompute it from the module's input (which is kept anyway);
backward runs the module once more (a LayerNorm or GELU forward, a small fraction of the matrix
products around it). Values and gradients are unchanged: the same kernel recomputes the same
tensor. First-order gradients only (the recomputed tensor carries no graph).

It is a wrapper around an unchanged forward, selective activation checkpointing by module.
:func:`applies` says where it pays: large fp32/fp64 activations, no autocast, not under
``torch.compile`` (whose partitioner already recomputes element-wise ops).
"""
from __future__ import annotations

import contextlib
import weakref
from dataclasses import dataclass
from typing import Iterable, Iterator

import torch
from torch import nn

#: Smallest block input (elements) worth recomputing for: 2**22 fp32 values = 16 MiB. Below it
#: the memory saved is small and the recomputation's per-op overhead costs ~4 % of a CPU
#: training step (measured at 27 frames, dim 64, 32 windows); the paper configuration with 4
#: windows has 8.5 M elements per activation.
MIN_ELEMENTS = 2**22


def applies(x: torch.Tensor) -> bool:
    """Large activations, full precision, no autocast (backward then sees forward's dtypes) and
    no ``torch.compile`` tracing."""
    return (x.numel() >= MIN_ELEMENTS and x.dtype in (torch.float32, torch.float64)
            and not torch.is_autocast_enabled(x.device.type) and not torch.compiler.is_compiling())


@dataclass
class _Recipe:
    """How to rebuild a saved view of a module's output: run the module on ``source`` again."""

    module: nn.Module
    source: torch.Tensor
    version: int
    size: torch.Size
    stride: tuple[int, ...]
    offset: int  # relative to the output's own storage offset


@contextlib.contextmanager
def recomputed_outputs(modules: Iterable[nn.Module], enabled: bool = True) -> Iterator[None]:
    """Inside the ``with``, outputs of ``modules`` that autograd would save are recomputed in backward.

    ``modules`` must be deterministic functions of one input tensor (LayerNorm, GELU) that is
    not modified in place afterwards (checked). ``enabled=False`` does nothing, so that a forward
    can always be written inside the block.
    """
    if not enabled:
        yield
        return
    outputs: dict[int, tuple[nn.Module, torch.Tensor, weakref.ref]] = {}

    def record(module, args, output):
        outputs[output.untyped_storage().data_ptr()] = (module, args[0], weakref.ref(output))

    def pack(t: torch.Tensor):
        entry = outputs.get(t.untyped_storage().data_ptr())
        # A dead output means its memory may hold another tensor now: not a match. (A consumer
        # saving the output is called while the output is alive.)
        output = None if entry is None else entry[2]()
        if output is None or t.dtype != output.dtype:
            return t
        module, source, _ = entry
        offset = t.storage_offset() - output.storage_offset()
        return _Recipe(module, source, source._version, t.size(), t.stride(), offset)

    handles = [module.register_forward_hook(record) for module in modules]
    try:
        with torch.autograd.graph.saved_tensors_hooks(pack, _unpack):
            yield
    finally:
        for handle in handles:
            handle.remove()
        outputs.clear()


def _unpack(saved):
    if not isinstance(saved, _Recipe):
        return saved
    if saved.source._version != saved.version:
        raise RuntimeError("an input of a recomputed module was modified in place after the forward")
    with torch.no_grad():
        full = saved.module.forward(saved.source)
    return full.as_strided(saved.size, saved.stride, saved.offset)


__all__ = ["MIN_ELEMENTS", "applies", "recomputed_outputs"]
