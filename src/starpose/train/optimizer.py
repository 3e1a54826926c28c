"""The optimiser of the training loop: :func:`adamw`."""
from __future__ import annotations

from typing import Iterable

import torch


def adamw(params: Iterable[torch.nn.Parameter], lr: float, weight_decay: float = 1e-2) -> torch.optim.AdamW:
    """AdamW as the training loop runs it: torch's fused implementation (one pass over each
    parameter per step) where the parameters allow it (fp32/fp16/bf16 on the CPU or a GPU), else
    the default one. The same update, to rounding; on the CPU the default is a loop of small
    operations per parameter: 4.4 vs 1.0 ms per step for the small star configuration's 116 tensors
    (2 threads, docs/performance.md, "fifth pass")."""
    params = list(params)
    fusable = all(p.device.type in ("cpu", "cuda") and p.dtype in (torch.float32, torch.float16, torch.bfloat16)
                  for p in params)
    return torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay, fused=fusable or None)


__all__ = ["adamw"]
