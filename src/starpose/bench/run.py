"""``starpose bench``: training and inference throughput, memory, FLOPs and data-pipeline speed.

For each configuration (``small``: 27 frames, dim 64, depth 4, 4 heads, 32 windows per batch;
``paper``: 243 frames, dim 512, depth 8, 8 heads, 4 windows) and each attention (vanilla, star)
it measures the explicit path (``attention_kernel="reference"``) and the fused one (``"auto"``:
the fastest kernel per call, see :mod:`starpose.models.kernels`; on CUDA also bf16 autocast and
``torch.compile``):

* training throughput: frames/s of one step (forward, ``mixste_loss``, backward, AdamW: torch's
  default implementation on the explicit path as in the published code, the training loop's
  fused one on the others), the median over interleaved rounds after warm-up steps;
* inference throughput: frames/s of :func:`predict_windows` with flip averaging, under
  ``torch.no_grad`` (inference mode), median after warm-up;
* peak memory of one training step. CPU: measured in a fresh subprocess per variant as the
  process's peak resident set (``VmHWM`` of ``/proc/self/status``, ``ru_maxrss`` where that file
  does not exist) after two steps, minus the resident set just before the model is built.
  CUDA: ``torch.cuda.max_memory_allocated`` over two steps, minus the memory allocated before;
* the largest batch that fits, an ESTIMATE: ``(capacity - fixed) / per_window`` with ``fixed``
  the parameters, gradients and AdamW moments (16 bytes per parameter), ``per_window`` the
  measured peak minus ``fixed``, divided by the batch; capacity 24 GB on the CPU, the device's
  memory on CUDA;
* FLOPs per frame, counted by :class:`torch.utils.flop_counter.FlopCounterMode` on the explicit
  path (meta tensors, batch 1): the matrix products only (linear layers, attention matmuls),
  2 FLOPs per multiply-add, element-wise operations not counted; a training step counts forward
  and backward. The achieved FLOP/s is the training count times the training throughput, for
  every path (the fused path does the same useful work); on CUDA also its fraction of the
  device's dense bf16 peak (:data:`starpose.bench.report.PEAK_BF16`; unknown devices: not reported).

Besides: batch-assembly throughput of :class:`TrainWindows` (``benchmark_batch_assembly``),
the end-to-end evaluation time of the synthetic ``h36m-size`` test split (S9, S11; ``small``
preset with ``quick=True``), generated once into a cache folder, and the CPU inference part
(:func:`run_inference_part`, :mod:`starpose.bench.inference`): the published forward against
starpose's eager, compiled and ONNX Runtime inference, lift end to end and its peak memory.
"""
from __future__ import annotations

import resource
import statistics
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from torch.utils.flop_counter import FlopCounterMode

from starpose.bench.config import BenchConfig
from starpose.bench.inference import quartiles
from starpose.bench.memory import rss_bytes
from starpose.bench.probe import run_probe
from starpose.bench.report import device_capacity, machine_info, peak_bf16
from starpose.inference.predictors import autocast, predict_windows
from starpose.train.loss import mixste_loss
from starpose.train.optimizer import adamw


CONFIGS = {
    "small": BenchConfig.of_preset("small", "mixste-27", warmup=3, reps=11),
    "paper": BenchConfig.of_preset("paper", "mixste-243", warmup=1, reps=3),
}
#: For tests: seconds, not minutes.
TINY = BenchConfig.of_preset("tiny", "mixste-27", batch=2, model=dict(num_frames=9, dim=16, depth=1, num_heads=2),
                             warmup=1, reps=2)


@dataclass(frozen=True)
class Variant:
    """One measured model: attention kind, attention kernel, autocast and compilation."""

    attention: str
    kernel: str
    amp: str | None = None
    compiled: bool = False

    @property
    def path(self) -> str:
        label = _PATH_LABELS.get(self.kernel, self.kernel)
        return label + (f"+{self.amp}" if self.amp else "") + ("+compile" if self.compiled else "")


#: Table labels of the kernel settings: the published math and the fastest kernel per call.
_PATH_LABELS = {"reference": "explicit", "auto": "fused"}


def variants(device: torch.device, amp: str | None, compile_: bool) -> list[Variant]:
    """Explicit and fused fp32 for both attentions, plus fused bf16 / compiled when asked."""
    out = []
    for attention in ("vanilla", "star"):
        out += [Variant(attention, "reference"), Variant(attention, "auto")]
        if amp:
            out.append(Variant(attention, "auto", amp))
        if compile_:
            out.append(Variant(attention, "auto", amp, compiled=True))
    return out


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def median_seconds(fn, device: torch.device, warmup: int, reps: int) -> float:
    """Median wall time of ``fn()`` over ``reps`` calls after ``warmup`` calls."""
    for _ in range(warmup):
        fn()
    _sync(device)
    times = []
    for _ in range(reps):
        begin = time.perf_counter()
        fn()
        _sync(device)
        times.append(time.perf_counter() - begin)
    return statistics.median(times)


def _inputs(config: BenchConfig, batch: int, device: torch.device, seed: int = 0):
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(batch, config.frames, config.joints, 2, generator=gen).to(device)
    y = torch.randn(batch, config.frames, config.joints, 3, generator=gen).to(device)
    return x, y


def build(config: BenchConfig, variant: Variant, device: torch.device, seed: int = 0):
    """``(model, optimizer, forward)``; ``forward`` is the compiled model where asked."""
    torch.manual_seed(seed)
    model = config.model(variant.attention, variant.kernel).to(device)
    # the published code's optimiser for the published computation, the training loop's otherwise
    optimizer = (torch.optim.AdamW(model.parameters(), lr=1e-4) if variant.kernel == "reference"
                 else adamw(model.parameters(), lr=1e-4))
    forward = torch.compile(model, dynamic=False) if variant.compiled else model
    return model, optimizer, forward


def train_step_fn(forward, optimizer, x, y, amp: str | None):
    """A closure running one training step and returning the loss tensor."""
    def step():
        optimizer.zero_grad(set_to_none=True)
        with autocast(x.device, amp):
            pred = forward(x)
        loss = mixste_loss(pred.float(), y).total
        loss.backward()
        optimizer.step()
        return loss
    return step


def flops_per_frame(config: BenchConfig, attention: str) -> tuple[float, float]:
    """``(forward, training)`` FLOPs per frame on the explicit path (see the module docstring)."""
    model = config.model(attention, "reference").to("meta")
    x = torch.empty(1, config.frames, config.joints, 2, device="meta")
    y = torch.empty(1, config.frames, config.joints, 3, device="meta")
    counter = FlopCounterMode(display=False)
    with counter:
        model(x)
    forward = counter.get_total_flops()
    counter = FlopCounterMode(display=False)
    with counter:
        mixste_loss(model(x), y).total.backward()
    return forward / config.frames, counter.get_total_flops() / config.frames


def memory_probe(spec: dict) -> dict:
    """Run in a fresh process: peak memory of two training steps of one variant (bytes)."""
    torch.set_num_threads(spec["threads"])
    config, variant = BenchConfig(**spec["config"]), Variant(**spec["variant"])
    device = torch.device(spec["device"])
    x, y = _inputs(config, config.batch, device)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
        base = torch.cuda.memory_allocated(device)
    else:
        base = rss_bytes("VmRSS") or resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    model, optimizer, forward = build(config, variant, device)
    step = train_step_fn(forward, optimizer, x, y, variant.amp)
    step()
    step()
    _sync(device)
    if device.type == "cuda":
        peak = torch.cuda.max_memory_allocated(device)
    else:
        peak = rss_bytes("VmHWM") or resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    params = sum(p.numel() for p in model.parameters())
    return {"peak_bytes": max(peak - base, 1), "params": params}


def measure_memory(config: BenchConfig, variant: Variant, device: torch.device) -> dict:
    """:func:`memory_probe` in a subprocess (CPU) or in this process (CUDA, after a reset)."""
    spec = {"config": asdict(config), "variant": asdict(variant), "device": str(device),
            "threads": torch.get_num_threads()}
    if device.type == "cuda":
        torch.cuda.empty_cache()
        return memory_probe(spec)
    return run_probe("starpose.bench.run", "memory_probe", spec, f"memory probe of {variant.path}")


def max_batch_estimate(peak_bytes: int, params: int, batch: int, capacity: int) -> int:
    """Windows per batch that fit in ``capacity`` bytes, extrapolated linearly (an estimate)."""
    fixed = 16 * params
    per_window = max(peak_bytes - fixed, 1) / batch
    return max(int((capacity - fixed) // per_window), 0)


def measure_group(config: BenchConfig, group: list[Variant], device: torch.device,
                  flops: tuple[float, float], memory: bool, log=print) -> list[dict]:
    """The table rows of one attention's variants at ``config``: their training steps measured
    side by side in one process, one step of each variant per round (``config.reps`` rounds
    after ``config.warmup`` steps each), so that a machine that speeds up or slows down during
    the measurement moves every variant alike. ``speedup_vs_explicit``: the median over the
    rounds of the explicit step's time over the variant's in the same round; its first and third
    quartiles in ``speedup_spread``. Then inference throughput and peak memory per variant."""
    x, y = _inputs(config, config.batch, device)
    built = {}
    for variant in group:
        log(f"[bench] {config.name} {variant.attention} {variant.path}: warm-up ...")
        try:
            model, optimizer, forward = build(config, variant, device)
            step = train_step_fn(forward, optimizer, x, y, variant.amp)
            for _ in range(config.warmup):
                step()
            _sync(device)
        except Exception as err:  # noqa: BLE001 - a failed variant (e.g. compile) is reported
            if not variant.compiled:
                raise
            log(f"[bench]   failed: {type(err).__name__}: {err}")
            continue
        built[variant] = (model, forward, step)
    log(f"[bench] {config.name} {group[0].attention}: {config.reps} interleaved rounds of "
        f"{', '.join(v.path for v in built)} ...")
    times: dict[Variant, list[float]] = {variant: [] for variant in built}
    for _ in range(config.reps):
        for variant, (_, _, step) in built.items():
            begin = time.perf_counter()
            step()
            _sync(device)
            times[variant].append(time.perf_counter() - begin)
    explicit = next((times[v] for v in built if v.kernel == "reference" and not v.amp and not v.compiled), None)
    frames = config.batch * config.frames
    rows = []
    for variant, (model, forward, _) in built.items():
        model.eval()
        infer_s = median_seconds(
            lambda: predict_windows(forward, x, flip=True, batch_size=config.batch, amp=variant.amp),
            device, config.warmup, config.reps)
        row = {
            "config": config.name, "frames": config.frames, "dim": config.dim, "depth": config.depth,
            "attention": variant.attention, "path": variant.path, "batch": config.batch,
            "train_frames_per_s": frames / statistics.median(times[variant]),
            "infer_frames_per_s": frames / infer_s,
            "peak_memory_mb": None, "max_batch_est": None,
            "gflop_per_frame_fwd": flops[0] / 1e9, "gflop_per_frame_train": flops[1] / 1e9,
            "train_step_s": times[variant],
        }
        if explicit is not None:
            ratios = [e / t for e, t in zip(explicit, times[variant])]
            row["speedup_vs_explicit"] = statistics.median(ratios)
            row["speedup_spread"] = list(quartiles(ratios))
        row["train_gflop_per_s"] = row["train_frames_per_s"] * flops[1] / 1e9
        peak = peak_bf16(device)
        row["pct_peak_bf16"] = 100 * row["train_gflop_per_s"] * 1e9 / peak if peak and variant.amp else None
        if memory:
            mem = measure_memory(config, variant, device)
            row["peak_memory_mb"] = mem["peak_bytes"] / 2**20
            row["max_batch_est"] = max_batch_estimate(mem["peak_bytes"], mem["params"], config.batch,
                                                      device_capacity(device))
        log(f"[bench]   {variant.path}: {row['train_frames_per_s']:.0f} train frames/s, "
            f"{row['infer_frames_per_s']:.0f} inference frames/s")
        rows.append(row)
    return rows


def run_models(configs: list[BenchConfig], device: torch.device, amp: str | None = None,
               compile_: bool = False, memory: bool | dict = True, log=print) -> list[dict]:
    """All model rows. ``memory``: bool, or ``{config name: bool}``."""
    rows = []
    for config in configs:
        with_memory = memory.get(config.name, True) if isinstance(memory, dict) else memory
        flops = {a: flops_per_frame(config, a) for a in ("vanilla", "star")}
        every = variants(device, amp, compile_)
        for attention in ("vanilla", "star"):
            group = [v for v in every if v.attention == attention]
            rows += measure_group(config, group, device, flops[attention], with_memory, log)
    return rows


def batch_assembly(quick: bool) -> dict:
    """Frames/s assembled by ``TrainWindows.epoch_batches`` (243 frames, 64 windows, flipped)."""
    from starpose.bench.windows import benchmark_batch_assembly

    total = 100_000 if quick else 500_000
    rate = benchmark_batch_assembly(frames=243, batch_size=64, total_frames=total,
                                    min_seconds=0.5 if quick else 2.0)
    return {"frames": 243, "batch": 64, "total_frames": total, "frames_per_s": rate}


def default_data_dir(preset: str) -> Path:
    return Path.home() / ".cache" / "starpose" / f"synthetic-{preset}"


def evaluation_time(device: torch.device, preset: str, data_dir: Path | None, config: BenchConfig,
                    amp: str | None = None, log=print) -> dict:
    """Seconds to load and to evaluate the synthetic test split (S9, S11), published protocol.

    The model is ``config`` with Star-Attention, fused path, randomly initialised (the time does
    not depend on the weights); the data are generated into ``data_dir`` on first use.
    """
    from starpose.datasets.h36m.files import load_h36m
    from starpose.datasets.h36m.synthetic import generate_dataset
    from starpose.evaluate.protocol import evaluate_model

    data_dir = Path(data_dir) if data_dir else default_data_dir(preset)
    if not (data_dir / "data_2d_h36m_gt.npz").is_file():
        log(f"[bench] generating the synthetic {preset} set into {data_dir} (once) ...")
        generate_dataset(data_dir, preset=preset)
    begin = time.perf_counter()
    sequences = load_h36m(data_dir, "gt", ("S9", "S11"))
    load_s = time.perf_counter() - begin
    model = config.model("star", "auto").to(device)
    frames = sum(s.num_frames for s in sequences)
    batch = max(config.batch, 64)
    log(f"[bench] evaluating {len(sequences)} sequences, {frames} frames ...")
    begin = time.perf_counter()
    evaluate_model(model, sequences, batch_size=batch, amp=amp)
    _sync(device)
    eval_s = time.perf_counter() - begin
    model_s = pure_model_seconds(model.eval(), sequences, batch, amp, device)
    return {"preset": preset, "data_dir": str(data_dir), "model": config.describe(),
            "attention": "star", "path": "fused" + (f"+{amp}" if amp else ""),
            "sequences": len(sequences), "frames": frames, "load_s": load_s, "evaluate_s": eval_s,
            "model_s": model_s, "evaluate_over_model": eval_s / model_s, "total_s": load_s + eval_s}


def pure_model_seconds(model, sequences, batch: int, amp: str | None, device: torch.device) -> float:
    """Seconds of the model alone (flip-averaged forwards) on the evaluation windows, which are
    cut and moved to the device beforehand: the floor that the evaluation time is compared to."""
    from starpose.data.windows import eval_windows

    frames = model.config.num_frames
    windows = np.concatenate([eval_windows(s.keypoints_2d, frames) for s in sequences])
    stacked = torch.from_numpy(windows).to(device)
    _sync(device)
    begin = time.perf_counter()
    predict_windows(model, stacked, flip=True, batch_size=batch, amp=amp)
    _sync(device)
    return time.perf_counter() - begin


def run_bench(configs: list[BenchConfig], device: torch.device, amp: str | None = None,
              compile_: bool = False, memory: bool | dict = True, assembly: bool = True,
              evaluation: dict | None = None, quick: bool = False, log=print,
              inference: dict | None = None, allocator_kept: bool = False) -> dict:
    """Everything; ``evaluation``: keyword arguments of :func:`evaluation_time` or None to skip;
    no ``configs``: no training rows. ``inference``: keyword arguments of :func:`run_inference_part`
    or None to skip. ``allocator_kept``: the caller ran
    :func:`starpose.inference.allocator.keep_freed_memory` (said in the machine lines)."""
    result = {"machine": machine_info(device, allocator_kept)}
    if configs:
        result["configs"] = configs
        result["rows"] = run_models(configs, device, amp, compile_, memory, log)
    if assembly:
        log("[bench] batch assembly ...")
        result["batch_assembly"] = batch_assembly(quick)
    if evaluation is not None:
        result["evaluation"] = evaluation_time(device, log=log, **evaluation)
    if inference is not None:
        result.update(run_inference_part(log=log, **inference))
    return result


def run_inference_part(configs, names, compile_mode: str | None = None, lift_frames: int | None = 10_000,
                       rss_minutes: tuple | None = (10, 60), log=print) -> dict:
    """The inference rows (:mod:`starpose.bench.inference`), lift end to end on ``lift_frames``
    frames (None: skipped) and the peak memory of lifting ``rss_minutes`` (None: skipped)."""
    from starpose.bench import inference as bench_inference

    out = {"inference_configs": list(configs),
           "inference": bench_inference.run_inference(configs, names=names, compile_mode=compile_mode, log=log)}
    if lift_frames:
        log(f"[bench] lift end to end, {lift_frames} frames ...")
        out["lift"] = bench_inference.lift_throughput(bench_inference.INFER_CONFIGS["small"], lift_frames)
    if rss_minutes:
        out["lift_rss"] = bench_inference.lift_peak_rss(rss_minutes, log=log)
    return out


def to_json(result: dict) -> dict:
    out = dict(result)
    for key in ("configs", "inference_configs"):
        if key in out:
            out[key] = [asdict(c) for c in result[key]]
    return out
