"""Where CPU inference time goes: ``torch.profiler`` tables (self CPU time) of the published
MixSTE forward (``starpose.models.published_forward``) and of starpose's ``model(x)`` on the same
weights, ``model.eval()`` under ``torch.inference_mode()``.

    python benchmarks/profile_inference.py                       # small: star, 27 frames, dim 128, depth 4, batch 16
    python benchmarks/profile_inference.py --attention vanilla --frames 243 --dim 512 --depth 8 --batch 1 --forwards 2
"""
import argparse

import torch
from torch.profiler import ProfilerActivity, profile

from starpose.models import MixSTE
from starpose.models.checkpoints import starpose_to_published
from starpose.models.published_forward import reference_forward


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--attention", choices=("star", "vanilla"), default="star")
    p.add_argument("--frames", type=int, default=27)
    p.add_argument("--dim", type=int, default=128)
    p.add_argument("--depth", type=int, default=4)
    p.add_argument("--heads", type=int, default=8)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--forwards", type=int, default=5)
    p.add_argument("--threads", type=int, default=0, help="torch threads (default: torch's choice)")
    p.add_argument("--rows", type=int, default=10)
    a = p.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    model = MixSTE(a.frames, 17, 2, a.dim, a.depth, a.heads, attention=a.attention).eval()
    x = torch.randn(a.batch, a.frames, 17, 2)
    weights = starpose_to_published(model.state_dict(), module_prefix=False)
    forwards = {"published": lambda: reference_forward(weights, x, a.heads, a.depth),
                "starpose auto": lambda: model(x)}
    with torch.inference_mode():
        for name, forward in forwards.items():
            forward()  # warm-up
            with profile(activities=[ProfilerActivity.CPU]) as prof:
                for _ in range(a.forwards):
                    forward()
            print(f"{name}: {a.attention}, {a.frames} frames, dim {a.dim}, depth {a.depth}, batch "
                  f"{a.batch}, {torch.get_num_threads()} threads, {a.forwards} forwards")
            print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=a.rows,
                                            max_name_column_width=30))


if __name__ == "__main__":
    main()
