"""The inference rows of ``starpose bench``: the published forward against starpose's, lift end
to end, and the peak memory of lifting a long recording.

* :func:`inference_rows`: one model (random weights, ``model.eval()``, input ``(batch, F, 17, 2)``
  fp32, all under ``torch.inference_mode()``) timed in several ways, side by side in one
  process: ``published`` (:mod:`starpose.models.published_forward`, the published code's
  forward transcribed line by line), starpose eager with the ``reference`` kernel and with
  ``auto`` (on the CPU: :mod:`starpose.models.inference_path`), ``torch.compile`` of the model,
  ONNX Runtime on its ONNX export, and optionally bf16 autocast. Rounds interleave the variants
  (one call of each per round) so that load on a shared machine hits them alike; a row gives
  the frames/s of the fastest round (the median too, in the JSON), the ratio to
  ``published``, the same ratio in process CPU time (with one thread, unaffected by other
  jobs on a shared machine) and the largest difference of its output from the ``reference``
  kernel's, relative to that output's largest magnitude;
* :func:`lift_throughput`: ``starpose lift`` in this process on a generated COCO JSON file
  (``frames`` frames, one person) to an ``.npz`` result, with a checkpoint of the given size;
* :func:`lift_peak_rss`: peak resident memory of ``starpose lift`` on a recording of ``minutes``
  at ``fps`` (17 joints, an ``.npy`` input), each length in a fresh subprocess (its ``VmHWM``;
  ``ru_maxrss`` where ``/proc`` is missing, which after a fork from a large process reports
  at least that process's peak), so that lengths can be compared.
"""
from __future__ import annotations

import contextlib
import copy
import io
import json
import resource
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from starpose.bench.config import InferConfig
from starpose.bench.probe import run_probe
from starpose.errors import StarposeError
from starpose.models.mixste import MixSTE


#: The configurations of the inference goals: the small one of the first measurement and the
#: paper's (batch 2 of the goal's 1-4, so that a round takes seconds, not minutes).
INFER_CONFIGS = {
    "small": InferConfig.of_preset("small", "mixste-81", batch=16, model=dict(num_frames=27), rounds=15),
    "paper": InferConfig.of_preset("paper", "mixste-243", batch=2, rounds=3),
}
#: For tests: seconds, not minutes.
TINY_INFER = InferConfig.of_preset("tiny", "mixste-27", batch=2, model=dict(num_frames=9, dim=16, depth=1, num_heads=2),
                                   rounds=2)

#: The variants in table order; ``published`` is the base of the ratios, ``reference`` of the errors.
VARIANTS = ("published", "reference", "auto", "compiled", "onnxruntime", "auto+bf16")


def _published(model: MixSTE, x: torch.Tensor):
    from starpose.models.checkpoints import starpose_to_published
    from starpose.models.published_forward import reference_forward

    weights = starpose_to_published(model.state_dict(), module_prefix=False)
    cfg = model.config
    return lambda: reference_forward(weights, x, cfg.num_heads, cfg.depth)


def _eager(model: MixSTE, x: torch.Tensor, kernel: str):
    return lambda: model.set_attention_kernel(kernel)(x)


def _compiled(model: MixSTE, x: torch.Tensor, mode: str | None):
    # A copy: the eager rows switch the original's kernel, which would make the graph recompile.
    compiled = torch.compile(copy.deepcopy(model).set_attention_kernel("auto"), mode=mode, dynamic=False)
    return lambda: compiled(x)


def _onnxruntime(model: MixSTE, x: torch.Tensor, folder: Path):
    from starpose.models.onnx_export import export_onnx
    from starpose.inference.onnx_runtime import OnnxPredictor

    path = export_onnx(model, folder / f"{model.config.attention}.onnx")
    # No spinning: ORT's idle threads would otherwise busy-wait through the next variant's turn.
    predictor = OnnxPredictor(path, flip=False, batch_size=len(x), threads=torch.get_num_threads(),
                              spinning=False)
    windows = x.numpy()
    return lambda: torch.from_numpy(predictor(windows))


def _bf16(model: MixSTE, x: torch.Tensor):
    from starpose.inference.predictors import autocast

    def run():
        with autocast(x.device, "bf16"):
            return model.set_attention_kernel("auto")(x).float()
    return run


def make_variants(model: MixSTE, x: torch.Tensor, names, folder: Path, compile_mode=None, log=print) -> dict:
    """The callables of ``names`` (see :data:`VARIANTS`); a variant that cannot be set up here
    (ONNX Runtime not installed) is left out with a log line."""
    makers = {
        "published": lambda: _published(model, x),
        "reference": lambda: _eager(model, x, "reference"),
        "auto": lambda: _eager(model, x, "auto"),
        "compiled": lambda: _compiled(model, x, compile_mode),
        "onnxruntime": lambda: _onnxruntime(model, x, folder),
        "auto+bf16": lambda: _bf16(model, x),
    }
    out = {}
    for name in names:
        try:
            out[name] = makers[name]()
        except (ImportError, StarposeError) as err:
            log(f"[bench]   {name}: left out ({err})")
    return out


def inference_rows(config: InferConfig, attention: str, names=VARIANTS, compile_mode: str | None = None,
                   log=print, neighbour: str | None = None) -> list[dict]:
    """The rows of one model (see the module docstring), in the order of ``names``."""
    torch.manual_seed(0)
    model = config.model(attention)
    x = torch.randn(config.batch, config.frames, config.joints, 2, generator=torch.Generator().manual_seed(1))
    with tempfile.TemporaryDirectory() as folder, torch.inference_mode():
        fns = make_variants(model, x, names, Path(folder), compile_mode, log)
        outputs, setup = {}, {}
        for name, fn in fns.items():  # first call: warm-up, compilation, the output to compare
            begin = time.perf_counter()
            outputs[name] = fn().float()
            setup[name] = time.perf_counter() - begin
        times = {name: [] for name in fns}
        cpu = {name: [] for name in fns}
        for _ in range(config.rounds):
            for name, fn in fns.items():
                begin, begin_cpu = time.perf_counter(), time.process_time()
                fn()
                times[name].append(time.perf_counter() - begin)
                cpu[name].append(time.process_time() - begin_cpu)
    reference = outputs.get("reference")
    frames = config.batch * config.frames
    # The fastest round: on a shared machine other jobs only ever add time.
    rate = {name: frames / min(ts) for name, ts in times.items()}
    cpu_rate = {name: frames / max(min(ts), 1e-9) for name, ts in cpu.items()}
    rows = []
    for name in fns:
        error = None
        if reference is not None:
            error = float((outputs[name] - reference).abs().max() / reference.abs().max())
        # the ratio to the published forward in each round (the two ran one after the other)
        ratios = [p / t for p, t in zip(times["published"], times[name])] if "published" in times else []
        q1, q3 = quartiles(ratios)  # the middle half of the rounds' ratios: the spread the table prints
        rows.append({
            "config": config.name, "frames": config.frames, "dim": config.dim, "depth": config.depth,
            "heads": config.heads, "batch": config.batch, "attention": attention, "variant": name,
            "threads": torch.get_num_threads(), "neighbour": neighbour,
            "frames_per_s": rate[name], "median_frames_per_s": frames / statistics.median(times[name]),
            "first_call_s": setup[name], "rounds": config.rounds,
            "vs_published": statistics.median(ratios) if ratios else None,
            "vs_published_min": min(ratios) if ratios else None,
            "vs_published_max": max(ratios) if ratios else None,
            "vs_published_q1": q1, "vs_published_q3": q3,
            "cpu_frames_per_s": cpu_rate[name],
            "cpu_vs_published": cpu_rate[name] / cpu_rate["published"] if "published" in rate else None,
            "max_rel_error": error,
        })
    return rows


def quartiles(values: list[float]) -> tuple[float | None, float | None]:
    """The first and third quartiles of ``values`` (None, None for fewer than two)."""
    if len(values) < 2:
        return None, None
    q1, _, q3 = statistics.quantiles(values, n=4, method="inclusive")
    return q1, q3


def thread_counts() -> list[int]:
    """The thread counts the inference rows are measured at: 1 and every core this process may
    use (2 here), and 4 where there are more."""
    from starpose.inference.threads import usable_cores

    cores = usable_cores()
    return sorted({1, cores} | ({4} if cores > 4 else set()))


def run_inference(configs, attentions=("star", "vanilla"), names=VARIANTS, compile_mode=None,
                  log=print, threads: list[int] | None = None, neighbour: bool = True) -> list[dict]:
    """The rows of every configuration and attention at each of ``threads`` (default
    :func:`thread_counts`); with ``neighbour``, then the ``published`` and ``auto`` rows again
    beside one busy process (:func:`busy_neighbour`): at every core and at the thread count
    that ``--threads auto`` picks then."""
    from starpose.inference.threads import choose_threads, torch_threads, usable_cores

    rows = []
    for count in threads or thread_counts():
        with torch_threads(count):
            for config in configs:
                for attention in attentions:
                    log(f"[bench] inference {config.name} {attention}, {count} thread(s): {', '.join(names)} ...")
                    begin = time.perf_counter()
                    rows += inference_rows(config, attention, names, compile_mode, log)
                    log(f"[bench]   ({time.perf_counter() - begin:.0f} s)")
    if neighbour and usable_cores() > 1:
        pair = [n for n in ("published", "auto") if n in names]
        with busy_neighbour():
            auto = choose_threads(None).threads
            for count in sorted({usable_cores(), auto}):
                with torch_threads(count):
                    log(f"[bench] inference {configs[0].name} star, {count} thread(s), one busy "
                        "neighbour ...")
                    rows += inference_rows(configs[0], "star", pair, compile_mode, log,
                                           neighbour="auto" if count == auto else "all cores")
    return rows


@contextlib.contextmanager
def busy_neighbour():
    """One other process keeping one core busy (a Python loop) while the block runs."""
    import subprocess
    import sys

    process = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(0.5)  # running before the thread count is chosen
        yield process
    finally:
        process.kill()
        process.wait()


# -- lift end to end ------------------------------------------------------------------------------

#: A standing person in COCO-17 order (pixels in a 1920 x 1080 image).
_COCO_TEMPLATE = np.array([
    (960, 300), (970, 290), (950, 290), (985, 300), (935, 300), (1010, 380), (910, 380),
    (1030, 480), (890, 480), (1040, 570), (880, 570), (990, 580), (930, 580), (995, 720),
    (925, 720), (1000, 860), (920, 860)], dtype=np.float64)
#: The wrists and ankles (COCO indices) swing as in walking.
_SWINGING = (9, 10, 15, 16)


def write_coco_json(path: Path, frames: int, fps: float = 50.0) -> Path:
    """A COCO results file of one person walking on the spot for ``frames`` frames."""
    t = np.arange(frames)[:, None, None]
    xy = np.broadcast_to(_COCO_TEMPLATE, (frames, 17, 2)).copy()
    xy[..., 0] += 80 * np.sin(2 * np.pi * t[..., 0] / 400)
    swing = 30 * np.sin(2 * np.pi * t[..., 0] / 50)
    for joint, sign in zip(_SWINGING, (1, -1, -1, 1)):
        xy[:, joint, 0] += sign * swing[:, 0]
    detections = [{"image_id": i, "category_id": 1, "score": 0.95,
                   "keypoints": np.concatenate([pose, np.full((17, 1), 0.9)], 1).round(2).ravel().tolist()}
                  for i, pose in enumerate(xy)]
    path.write_text(json.dumps({"width": 1920, "height": 1080, "fps": fps, "annotations": detections}))
    return path


def _lift_quietly(source, out, checkpoint, **options) -> None:
    """:func:`starpose.lift.pipeline.lift_files` with its messages and progress bars silenced."""
    from starpose.lift.options import LiftOptions
    from starpose.lift.pipeline import lift_files

    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        lift_files(LiftOptions(inputs=(str(source),), out=str(out), checkpoint=str(checkpoint),
                               device="cpu", **options), log=lambda line: None)


def lift_throughput(config: InferConfig, frames: int = 10_000, attention: str = "star") -> dict:
    """Seconds of ``starpose lift FILE.json --checkpoint CKPT --out OUT.npz`` (flip averaging,
    batch 32), in this process, on a generated COCO file of ``frames`` frames."""
    from starpose.models.checkpoints import save_checkpoint

    torch.manual_seed(0)
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        checkpoint = save_checkpoint(folder / "model.pt", config.model(attention))
        source = write_coco_json(folder / "walk.json", frames)
        out = folder / "walk3d.npz"
        begin = time.perf_counter()
        _lift_quietly(source, out, checkpoint)
        seconds = time.perf_counter() - begin
        with np.load(out) as result:
            if result["positions_3d"].shape != (frames, config.joints, 3):
                raise StarposeError(f"lift wrote {result['positions_3d'].shape}, expected ({frames}, {config.joints}, 3)")
    return {"model": config.describe_model(), "attention": attention, "frames": frames,
            "seconds": seconds, "frames_per_s": frames / seconds}


# -- peak memory of a long recording --------------------------------------------------------------

#: The 243-frame model of the memory measurement: the paper's window, a small width (the peak
#: memory of the model's activations grows with the width, not with the recording's length).
RSS_CONFIG = InferConfig.of_preset("rss", "mixste-243", batch=32, model=dict(dim=64, depth=1, num_heads=4), rounds=1)


def lift_rss_probe(spec: dict) -> dict:
    """Run in a fresh process: ``starpose lift`` of a generated ``.npy`` recording; peak RSS."""
    from starpose.bench.memory import rss_bytes

    torch.set_num_threads(spec["threads"])
    frames, folder = int(spec["minutes"] * 60 * spec["fps"]), Path(spec["folder"])
    source = folder / f"rec{spec['minutes']}.npy"
    t = np.arange(frames, dtype=np.float32)[:, None, None]
    xy = np.broadcast_to(_COCO_TEMPLATE.astype(np.float32), (frames, 17, 2)) + 20 * np.sin(t / 25)
    np.save(source, xy.astype(np.float32))
    del xy, t
    out = folder / f"rec{spec['minutes']}.npz"
    begin = time.perf_counter()
    _lift_quietly(source, out, spec["checkpoint"], width=1920.0, height=1080.0, fps=float(spec["fps"]))
    seconds = time.perf_counter() - begin
    peak = rss_bytes("VmHWM") or resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    return {"minutes": spec["minutes"], "frames": frames, "seconds": seconds, "peak_rss_bytes": peak}


def lift_peak_rss(minutes=(10, 60), fps: float = 50.0, config: InferConfig = RSS_CONFIG,
                  log=print) -> dict:
    """Peak RSS of lifting recordings of each length in ``minutes`` (one subprocess each)."""
    torch.manual_seed(0)
    probes = []
    with tempfile.TemporaryDirectory() as folder:
        from starpose.models.checkpoints import save_checkpoint

        checkpoint = save_checkpoint(Path(folder) / "model.pt", config.model("star"))
        for length in minutes:
            log(f"[bench] peak memory: lifting {length} min at {fps:g} fps ...")
            spec = {"minutes": length, "fps": fps, "folder": folder, "checkpoint": str(checkpoint),
                    "threads": torch.get_num_threads()}
            probes.append(run_probe("starpose.bench.inference", "lift_rss_probe", spec,
                                    f"peak-memory probe ({length:g} min)"))
    return {"model": config.describe_model() + ", star", "fps": fps, "probes": probes}


__all__ = ["INFER_CONFIGS", "InferConfig", "RSS_CONFIG", "TINY_INFER", "VARIANTS", "inference_rows",
           "lift_peak_rss", "lift_rss_probe", "lift_throughput", "run_inference", "write_coco_json"]
