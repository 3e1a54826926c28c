"""``starpose bench``: options -> the configurations, device and variants that
:func:`starpose.bench.run_bench` measures; prints its table, optionally writes JSON."""
from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path

from starpose.commands.common import add_command_parser, add_device_argument, comma_list, positive_int
from starpose.errors import StarposeError

EXAMPLES = (
    "starpose bench --quick --configs small --no-eval   # the small model only, fewer repetitions",
    "starpose bench --json bench.json                    # everything, also as JSON",
    "starpose bench --device cuda:0 --amp none           # a GPU, without the bf16 rows",
)


def add_parser(subparsers) -> None:
    parser = add_command_parser(
        subparsers, "bench", help="benchmark training/inference throughput, memory, FLOPs, data pipeline",
        description="Measure explicit vs fused attention, vanilla vs star, at the small and "
        "paper configurations; prints one table (takes minutes).",
        examples=EXAMPLES,
    )
    parser.add_argument("--json", type=Path, help="also write the results to this JSON file")
    parser.add_argument("--quick", action="store_true",
                        help="fewer repetitions, no paper-config memory probe, small synthetic set")
    add_device_argument(parser)
    parser.add_argument("--configs", type=comma_list, default="small,paper",
                        help="comma-separated: small, paper")
    parser.add_argument("--amp", choices=("none", "bf16"), default=None,
                        help="add fused bf16-autocast rows (default: bf16 on CUDA, none on CPU)")
    parser.add_argument("--compile", action="store_true", default=None,
                        help="add torch.compile rows (default: on CUDA)")
    parser.add_argument("--data-dir", type=Path, help="synthetic data cache for the evaluation "
                        "(default: ~/.cache/starpose/synthetic-<preset>)")
    parser.add_argument("--threads", type=positive_int, help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--no-eval", action="store_true", help="skip the evaluation timing")
    parser.set_defaults(func=run)


def bench_configs(names: tuple[str, ...], quick: bool) -> list:
    """The :class:`starpose.bench.BenchConfig` of each name; ``quick`` cuts the repetitions."""
    from starpose.bench import CONFIGS

    unknown = [name for name in names if name not in CONFIGS]
    if unknown:
        raise StarposeError(f"--configs: unknown config {unknown[0]!r} (choose from {', '.join(CONFIGS)})")
    if not quick:
        return [CONFIGS[name] for name in names]
    return [replace(CONFIGS[name], warmup=1, reps=2 if name == "paper" else 3) for name in names]


def run(args: argparse.Namespace) -> int:
    import torch

    from starpose.bench import CONFIGS, run_bench, to_json
    from starpose.bench_report import format_table
    from starpose.inference import resolve_device
    from starpose.io import atomic_write_text

    if args.json and args.json.is_dir():  # checked before the minutes of measuring
        raise StarposeError(f"{args.json}: is a folder (--json wants a file name)")
    device = resolve_device(args.device)  # a clear error where CUDA is asked for but absent
    if args.threads:
        torch.set_num_threads(args.threads)
    amp = args.amp if args.amp is not None else ("bf16" if device.type == "cuda" else None)
    amp = None if amp == "none" else amp
    compile_ = args.compile if args.compile is not None else device.type == "cuda"
    configs = bench_configs(args.configs, args.quick)
    memory = {"paper": not args.quick} if args.quick else True
    evaluation = None
    if not args.no_eval:
        eval_config = CONFIGS["paper"] if device.type == "cuda" else CONFIGS["small"]
        evaluation = {"preset": "small" if args.quick else "h36m-size", "data_dir": args.data_dir,
                      "config": eval_config, "amp": amp}
    result = run_bench(configs, device, amp, compile_, memory, True, evaluation, args.quick, _log)
    print(format_table(result))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(args.json, json.dumps(to_json(result), indent=2) + "\n")
        print(f"wrote {args.json}")
    return 0


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)
