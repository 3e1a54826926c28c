"""``starpose bench``: options -> the configurations, device and variants that
:func:`starpose.bench.run.run_bench` measures; prints its table, optionally writes JSON."""
from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path

from starpose.commands.common import add_command_parser, add_device_argument, comma_list, positive_int
from starpose.errors import StarposeError

EXAMPLES = (
    "starpose bench --json bench.json                    # everything, also as JSON",
    "starpose bench --inference-only --quick             # the inference part only, in minutes",
    "starpose bench --video                              # lifting a 720p video, stage by stage",
)


def add_parser(subparsers) -> None:
    parser = add_command_parser(
        subparsers, "bench", help="benchmark training/inference throughput, memory, FLOPs, data pipeline",
        description="Measure explicit vs fused attention, vanilla vs star, at the small and "
        "paper configurations (training and inference), then CPU inference against the published "
        "code (eager, compiled, ONNX Runtime), lift end to end and its peak memory on long "
        "recordings; prints the tables (takes minutes).",
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
                        help="add torch.compile training rows (default: on CUDA) and the compiled "
                        "inference row (default: unless --quick)")
    parser.add_argument("--no-compile", dest="compile", action="store_false", default=None,
                        help="no torch.compile rows at all")
    parser.add_argument("--compile-mode", default=None,
                        help="torch.compile mode of the compiled inference row (default: torch's "
                        "default; e.g. max-autotune-no-cudagraphs)")
    parser.add_argument("--inference-only", action="store_true",
                        help="only the inference rows, lift end to end and its peak memory")
    parser.add_argument("--no-inference", action="store_true", help="skip the inference part")
    parser.add_argument("--rss-minutes", type=_minutes, default=None, metavar="LIST",
                        help="recording lengths (minutes, 50 fps) whose lift peak memory is "
                        "measured; 0 skips it (default: 10,60; with --quick: 2,12)")
    parser.add_argument("--data-dir", type=Path, help="synthetic data cache for the evaluation "
                        "(default: ~/.cache/starpose/synthetic-<preset>)")
    parser.add_argument("--threads", type=positive_int, help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--no-eval", action="store_true", help="skip the evaluation timing")
    parser.add_argument("--video", action="store_true",
                        help="only the video benchmark: a 1280x720 clip made here, lifted end to "
                        "end (decode, detector, tracking, lifter, render; online latency)")
    parser.add_argument("--video-frames", type=positive_int, default=90,
                        help="frames of the --video clip")
    parser.add_argument("--video-people", type=int, choices=(1, 2), default=1,
                        help="people in the --video clip")
    parser.set_defaults(func=run)


def run_video(args) -> int:
    """``--video``: :func:`starpose.bench.video.run_video_bench`, then its table."""
    import torch

    from starpose.bench.video import format_video_table, run_video_bench
    from starpose.inference.predictors import resolve_device

    device = resolve_device(args.device)
    if args.threads:
        torch.set_num_threads(args.threads)
    runs = run_video_bench(frames=args.video_frames, people=args.video_people,
                           rounds=2 if args.quick else 3, device=device, log=_log)
    print(format_video_table(runs))
    if args.json:
        from starpose.io import atomic_write_text

        atomic_write_text(args.json, json.dumps({"video": runs}, indent=2) + "\n")
        print(f"wrote {args.json}")
    return 0


def _minutes(text: str) -> tuple[float, ...]:
    try:
        values = tuple(float(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated minutes, got {text!r}") from None
    if any(v < 0 for v in values):
        raise argparse.ArgumentTypeError(f"minutes must not be negative, got {text!r}")
    return tuple(v for v in values if v > 0)


def inference_part(args, quick: bool) -> dict | None:
    """Keyword arguments of :func:`starpose.bench.run.run_inference_part` from the options."""
    from starpose.bench.inference import INFER_CONFIGS
    from starpose.inference.cpu_features import bf16_support

    if args.no_inference:
        return None
    configs = [INFER_CONFIGS[name] for name in args.configs]
    if quick:
        configs = [replace(c, rounds=3 if c.name == "small" else 2, batch=c.batch if c.name == "small" else 1)
                   for c in configs]
    names = ["published", "reference", "auto"]
    names += ["compiled"] if (args.compile if args.compile is not None else not quick) else []
    names.append("onnxruntime")
    names += ["auto+bf16"] if args.amp == "bf16" or (args.amp is None and bf16_support().native) else []
    rss = args.rss_minutes if args.rss_minutes is not None else ((2, 12) if quick else (10, 60))
    return {"configs": configs, "names": names, "compile_mode": args.compile_mode,
            "rss_minutes": rss or None}


def bench_configs(names: tuple[str, ...], quick: bool) -> list:
    """The :class:`starpose.bench.run.BenchConfig` of each name; ``quick`` cuts the repetitions."""
    from starpose.bench.run import CONFIGS

    unknown = [name for name in names if name not in CONFIGS]
    if unknown:
        raise StarposeError(f"--configs: unknown config {unknown[0]!r} (choose from {', '.join(CONFIGS)})")
    if not quick:
        return [CONFIGS[name] for name in names]
    # the paper size trains at batch 1 (its recipe's 4 took 7 GB resident with explicit attention)
    return [replace(CONFIGS[name], warmup=1, reps=2 if name == "paper" else 3,
                    batch=1 if name == "paper" else CONFIGS[name].batch) for name in names]


def run(args: argparse.Namespace) -> int:
    from starpose.inference.allocator import keep_freed_memory

    allocator_kept = keep_freed_memory()  # every variant measured without page faults (see there)
    if args.video:
        return run_video(args)
    import torch

    from starpose.bench.run import CONFIGS, run_bench, to_json
    from starpose.bench.report import format_table
    from starpose.inference.predictors import resolve_device
    from starpose.io import atomic_write_text

    if args.json and args.json.is_dir():  # checked before the minutes of measuring
        raise StarposeError(f"{args.json}: is a folder (--json wants a file name)")
    device = resolve_device(args.device)  # a clear error where CUDA is asked for but absent
    if args.threads:
        torch.set_num_threads(args.threads)
    amp = args.amp if args.amp is not None else ("bf16" if device.type == "cuda" else None)
    amp = None if amp == "none" else amp
    compile_ = args.compile if args.compile is not None else device.type == "cuda"
    if args.inference_only and args.no_inference:
        raise StarposeError("--inference-only and --no-inference exclude each other")
    configs = bench_configs(args.configs, args.quick)  # checks the names
    configs = [] if args.inference_only else configs
    memory = {"paper": not args.quick} if args.quick else True
    inference = inference_part(args, args.quick)
    evaluation = None
    if not args.no_eval and not args.inference_only:
        eval_config = CONFIGS["paper"] if device.type == "cuda" else CONFIGS["small"]
        evaluation = {"preset": "small" if args.quick else "h36m-size", "data_dir": args.data_dir,
                      "config": eval_config, "amp": amp}
    result = run_bench(configs, device, amp, compile_, memory, not args.inference_only, evaluation,
                       args.quick, _log, inference, allocator_kept)
    print(format_table(result))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(args.json, json.dumps(to_json(result), indent=2) + "\n")
        print(f"wrote {args.json}")
    return 0


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)
