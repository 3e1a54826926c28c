"""What ``starpose bench`` reports besides its measurements: the machine and the printed table.

:func:`machine_info` describes the machine (versions, CPU, GPU and its dense bf16 peak from
:data:`PEAK_BF16`), :func:`device_capacity` the memory that the largest-batch estimate divides,
:func:`format_table` renders a result of :func:`starpose.bench.run.run_bench` (a Markdown table of
the model rows, then the data-pipeline lines).
"""
from __future__ import annotations

import datetime
import os
import platform
from pathlib import Path

import numpy as np
import torch

from starpose.inference.cpu_features import bf16_support
from starpose.models.kernels import fused_cpu

CPU_CAPACITY = 24 * 2**30
#: Dense bf16 peak FLOP/s by GPU name (first substring match wins).
PEAK_BF16 = (("H100 PCIe", 756e12), ("H100", 989e12), ("H200", 989e12), ("GH200", 989e12),
             ("A100", 312e12), ("L40S", 362e12), ("A10G", 70e12), ("L4", 121e12))


def device_capacity(device: torch.device) -> int:
    if device.type == "cuda":
        return torch.cuda.get_device_properties(device).total_memory
    return CPU_CAPACITY


def peak_bf16(device: torch.device) -> float | None:
    """Dense bf16 peak FLOP/s of the GPU from :data:`PEAK_BF16`; None on the CPU or if unknown."""
    if device.type != "cuda":
        return None
    name = torch.cuda.get_device_name(device)
    return next((peak for key, peak in PEAK_BF16 if key in name), None)


#: The machine line on the allocator when :func:`starpose.inference.allocator.keep_freed_memory` took.
ALLOCATOR_NOTE = "freed memory kept in the process (glibc mallopt: no page faults from returned buffers)"


def machine_info(device: torch.device, allocator_kept: bool = False) -> dict:
    info = {"date": datetime.date.today().isoformat(), "python": platform.python_version(),
            "torch": torch.__version__, "numpy": np.__version__, "device": str(device),
            "cpu": cpu_model(), "cpu_cores": os.cpu_count(), "threads": torch.get_num_threads(),
            "cpu_bf16": bf16_support().describe(), "load_average": _load_average(),
            "allocator": ALLOCATOR_NOTE if allocator_kept else None, "fused_cpu_attention": fused_cpu.describe()}
    if device.type == "cuda":
        info["gpu"] = torch.cuda.get_device_name(device)
        info["gpu_peak_bf16_tflops"] = (peak_bf16(device) or 0) / 1e12 or None
    return info


def _load_average() -> list[float] | None:
    """The 1, 5 and 15-minute load averages at the start (other jobs slow a benchmark down)."""
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except (AttributeError, OSError):
        return None


def cpu_model() -> str:
    """The CPU's model name (``/proc/cpuinfo``), else what ``platform`` says."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


_COLUMNS = (
    ("config", "config", "{}"), ("attention", "attention", "{}"), ("path", "path", "{}"),
    ("batch", "batch", "{}"), ("train fr/s", "train_frames_per_s", "{:.0f}"),
    ("infer fr/s", "infer_frames_per_s", "{:.0f}"), ("peak MB", "peak_memory_mb", "{:.0f}"),
    ("max batch*", "max_batch_est", "{}"), ("GFLOP/fr train", "gflop_per_frame_train", "{:.3f}"),
    ("GFLOP/s", "train_gflop_per_s", "{:.1f}"), ("% bf16 peak", "pct_peak_bf16", "{:.1f}"),
    ("vs explicit", "speedup_vs_explicit", "{:.2f}x"),
)


def format_table(result: dict) -> str:
    """The whole result as printed: machine line, model table (Markdown), pipeline lines, then the
    inference table and lines where measured."""
    lines = _machine_lines(result["machine"])
    if result.get("rows") is not None:
        lines += _training_lines(result)
    if result.get("inference"):
        lines += [""] + format_inference(result)
    return "\n".join(lines)


def _machine_lines(m: dict) -> list[str]:
    lines = [f"starpose bench, {m['date']}: {m['device']} ({m.get('gpu') or m['cpu']}, "
             f"{m['cpu_cores']} cores, {m['threads']} threads), torch {m['torch']}, numpy {m['numpy']}"]
    lines += [f"cpu: {m['cpu_bf16']}"] if m.get("cpu_bf16") else []
    lines += [f"allocator: {m['allocator']}"] if m.get("allocator") else []
    lines += [f"CPU attention: {m['fused_cpu_attention']}"] if m.get("fused_cpu_attention") else []
    if m.get("load_average"):
        lines.append("load average at the start: " + ", ".join(f"{v:.2f}" for v in m["load_average"]))
    return lines


def _training_lines(result: dict) -> list[str]:
    m = result["machine"]
    lines = [""] + ([c.describe() for c in result["configs"]] if "configs" in result else [])
    header = "| " + " | ".join(title for title, _, _ in _COLUMNS) + " |"
    rule = "|" + "|".join("---" if i < 3 else "---:" for i in range(len(_COLUMNS))) + "|"
    lines += ["", header, rule]
    for row in result["rows"]:
        cells = ["-" if row.get(key) is None else fmt.format(row[key]) for _, key, fmt in _COLUMNS]
        q1, q3 = row.get("speedup_spread") or (None, None)
        if q1 is not None and row.get("path") != "explicit":
            cells[-1] += f" ({q1:.2f}-{q3:.2f})"
        lines.append("| " + " | ".join(cells) + " |")
    lines.append("")
    lines.append("vs explicit: training steps measured side by side, one step of each path per round; "
                 "the median over the rounds of the explicit step's time over this path's, the middle "
                 "half of the rounds in brackets.")
    lines.append("* max batch: estimated from the measured peak memory (linear in the batch), "
                 f"capacity {'24 GiB RAM' if m['device'] == 'cpu' else 'the GPU memory'}.")
    if result.get("batch_assembly"):
        b = result["batch_assembly"]
        lines.append(f"batch assembly: {b['frames_per_s'] / 1e6:.2f} M frames/s "
                     f"(TrainWindows, {b['frames']} frames, batch {b['batch']}, flipped)")
    if result.get("evaluation"):
        e = result["evaluation"]
        lines.append(f"evaluation ({e['preset']} synthetic S9+S11, {e['sequences']} sequences, "
                     f"{e['frames']} frames, {e['model']}, {e['path']}): load {e['load_s']:.1f} s, "
                     f"evaluate {e['evaluate_s']:.1f} s (the model alone {e['model_s']:.1f} s: "
                     f"{e['evaluate_over_model']:.2f}x), total {e['total_s']:.1f} s")
    return lines


_INFER_COLUMNS = (
    ("config", "config", "{}"), ("attention", "attention", "{}"), ("variant", "variant", "{}"),
    ("threads", "threads", "{}"), ("busy neighbour", "neighbour", "{}"),
    ("batch", "batch", "{}"), ("infer fr/s", "frames_per_s", "{:.0f}"),
    ("vs published (median, middle half)", "vs_published", "{:.2f}x"),
    ("CPU-time vs published", "cpu_vs_published", "{:.2f}x"),
    ("max rel. error", "max_rel_error", "{:.1e}"),
    ("first call s", "first_call_s", "{:.1f}"),
)


def format_inference(result: dict) -> list[str]:
    """The inference table (Markdown) and the lift lines of a result."""
    lines = [c.describe() for c in result.get("inference_configs", [])]
    header = "| " + " | ".join(title for title, _, _ in _INFER_COLUMNS) + " |"
    rule = "|" + "|".join("---" if i < 3 else "---:" for i in range(len(_INFER_COLUMNS))) + "|"
    lines += ["", header, rule]
    for row in result["inference"]:
        cells = ["-" if row.get(key) is None else fmt.format(row[key]) for _, key, fmt in _INFER_COLUMNS]
        if row.get("vs_published_q1") is not None:
            at = [key for _, key, _ in _INFER_COLUMNS].index("vs_published")
            cells[at] += f" ({row['vs_published_q1']:.2f}-{row['vs_published_q3']:.2f})"
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", "inference: CPU, fp32 (auto+bf16: bf16 autocast), model.eval() under "
              "torch.inference_mode(), rounds interleaved; infer fr/s: the fastest round; vs published: "
              "the per-round ratio of the published forward's time to the variant's, median and "
              "first-third quartile over the rounds (min-max in the JSON); busy neighbour: measured beside one other process keeping "
              "a core busy, at every core ('all cores') and at the count --threads auto picks "
              "('auto'); error: max |out - reference kernel| / max |reference|"]
    if result.get("lift"):
        lift = result["lift"]
        lines.append(f"lift end to end (COCO JSON of {lift['frames']:,} frames -> .npz, flip averaging, "
                     f"batch 32, model: {lift['model']}, {lift['attention']}): {lift['seconds']:.1f} s, "
                     f"{lift['frames_per_s']:.0f} frames/s")
    if result.get("lift_rss"):
        rss = result["lift_rss"]
        probes = ", ".join(f"{p['minutes']:g} min ({p['frames']:,} frames, {p['seconds']:.0f} s): "
                           f"{p['peak_rss_bytes'] / 2**20:.0f} MB" for p in rss["probes"])
        lines.append(f"lift peak RSS at {rss['fps']:g} fps (batch 32, flip averaging; model: {rss['model']}): {probes}")
    return lines
