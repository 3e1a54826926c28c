"""Attention kernels: the functions computing ``softmax(logits) @ v`` from q, k, v (and ``Wa``).

Every kernel has the signature of :func:`reference.attend`::

    attend(q, k, v, wa=None, *, scale, dropout_p=0.0) -> out

q, k, v and the output are ``(B, h, N, d)`` (q, k, v may be strided views), ``wa`` is the
Star-Attention weight ``(N, d)`` or None for vanilla attention. The kernels are
interchangeable: same function, different speed and memory.

* ``reference`` (:mod:`.reference`): the published math, step by step; what the others are
  tested against;
* ``sdpa`` (:mod:`.sdpa`): through ``F.scaled_dot_product_attention``, memory linear in N;
* ``cpu_small`` (:mod:`.cpu_small`): short CPU sequences, hand-written backward;
* ``inference`` (:mod:`.inference`): CPU, grad disabled: no autograd, in place, chunked.

:func:`resolve_kernel` is the one place where a kernel is chosen.
"""
from __future__ import annotations

from typing import Callable

import torch

from starpose.models.kernels import cpu_small, inference, reference, sdpa

#: The kernels by name. ``"auto"`` (not in this table) picks one per call, see resolve_kernel.
KERNELS: dict[str, Callable[..., torch.Tensor]] = {
    "reference": reference.attend,
    "sdpa": sdpa.attend,
    "cpu_small": cpu_small.attend,
    "inference": inference.attend,
}
#: Kernels without a backward pass (their gradients are not defined).
INFERENCE_ONLY = frozenset({"inference"})
#: The values ``MixSTEConfig.attention_kernel`` accepts.
KERNEL_NAMES = ("auto", *KERNELS)

#: Longest sequence ``auto`` sends to ``cpu_small`` on the CPU. Longer ones go to SDPA's flash
#: kernel, which keeps memory linear in the sequence length.
SMALL_SEQ_MAX = 128


def check_kernel_name(name: str) -> str:
    """``name`` if it is one of :data:`KERNEL_NAMES`, else a ValueError."""
    if name not in KERNEL_NAMES:
        raise ValueError(f"attention_kernel must be one of {', '.join(KERNEL_NAMES)}; got {name!r}")
    return name


def resolve_kernel(name: str, device: torch.device, dtype: torch.dtype, seq_len: int,
                   dropout_p: float = 0.0) -> str:
    """The name of the kernel that runs a call.

    ``name`` other than ``"auto"`` is taken as it is (``cpu_small`` refuses attention dropout).
    ``"auto"``: on the CPU in fp32/fp64 without attention dropout for at most
    :data:`SMALL_SEQ_MAX` tokens, ``inference`` when grad is disabled (``torch.no_grad`` /
    ``inference_mode``), else ``cpu_small``; ``sdpa`` for everything else (CUDA, long
    sequences, autocast, dropout).
    """
    if check_kernel_name(name) != "auto":
        if name == "cpu_small" and dropout_p > 0:
            raise ValueError("the cpu_small attention kernel has no attention dropout")
        return name
    small = (torch.device(device).type == "cpu" and dtype in (torch.float32, torch.float64)
             and seq_len <= SMALL_SEQ_MAX and dropout_p == 0.0)
    if not small:
        return "sdpa"
    return "cpu_small" if torch.is_grad_enabled() else "inference"


def select_kernel(name: str, device: torch.device, dtype: torch.dtype, seq_len: int,
                  dropout_p: float = 0.0) -> Callable[..., torch.Tensor]:
    """The kernel function :func:`resolve_kernel` names."""
    return KERNELS[resolve_kernel(name, device, dtype, seq_len, dropout_p)]


__all__ = ["KERNELS", "INFERENCE_ONLY", "KERNEL_NAMES", "SMALL_SEQ_MAX", "check_kernel_name", "resolve_kernel", "select_kernel"]
