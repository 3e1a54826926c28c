"""DistributedDataParallel plumbing of the trainer: joining the process group that ``torchrun``
sets up, averaging numbers over ranks, and a validation sharded over ranks."""
from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass
class DistInfo:
    rank: int = 0
    world_size: int = 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def setup_distributed(device: torch.device) -> DistInfo:
    """Join the process group when started by torchrun (WORLD_SIZE > 1): NCCL on GPUs, Gloo on CPUs."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size <= 1:
        return DistInfo()
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
    return DistInfo(dist.get_rank(), dist.get_world_size())


def all_mean(value: torch.Tensor, info: DistInfo) -> torch.Tensor:
    """The mean of a (detached) tensor over ranks."""
    if info.world_size == 1:
        return value
    value = value.clone()
    dist.all_reduce(value)
    return value / info.world_size


def reduced_validation(model, shard: list, info: DistInfo, *, skeleton, batch_size: int,
                        amp: str | None) -> float:
    """Every rank evaluates its shard; per-sequence errors are gathered and aggregated once."""
    from starpose.evaluate.protocol import action_table, sequence_errors

    model.eval()
    local = sequence_errors(model, shard, batch_size=batch_size, amp=amp,
                            skeleton=skeleton) if shard else []
    model.train()
    gathered: list = [None] * info.world_size
    dist.all_gather_object(gathered, local)
    results = [r for part in gathered for r in part]
    return action_table(results)["Average"]["mpjpe"]
