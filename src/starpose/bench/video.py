"""``starpose bench --video``: frames/s of lifting a video end to end, stage by stage.

The clip is made here (nothing is downloaded): ``frames`` frames of 1280 x 720 at 30 frames/s,
H.264 (libx264, CRF 23, PyAV), a grey gradient background with scikit-image's astronaut
photograph (a real person, upper body) scaled to 600 px and drifting sideways 3 px a frame;
``people=2`` puts a mirrored second copy on the right. Each round lifts it three ways,
interleaved: offline (decode, detect, track, lift), online (the causal lifter, frame by frame)
and offline with ``--render``; the table gives each stage's frames/s as the median over rounds
with the spread (min-max), the online mode's mean latency per frame (detector + tracking +
lifter: the time from a decoded frame to its 3D pose) and the detector's one-off set-up time.
On a busy machine the wall-clock rates measure the other processes too; the frames per
CPU-second (the process's CPU time, all its threads) is what one free core would give, about.
"""
from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

WIDTH, HEIGHT, FPS, PERSON_PX = 1280, 720, 30.0, 600


def make_clip(path, frames: int = 90, people: int = 1) -> Path:
    """Write the benchmark clip (see the module docstring) to ``path`` (``.mp4``)."""
    from PIL import Image
    from skimage import data

    from starpose.video.writer import VideoWriter

    photo = np.asarray(Image.fromarray(data.astronaut()).resize((PERSON_PX, PERSON_PX)))
    ramp = np.linspace(60, 150, WIDTH, dtype=np.float32)[None, :, None]
    background = np.broadcast_to(ramp, (HEIGHT, WIDTH, 3)).astype(np.uint8)
    writer = VideoWriter(path, FPS)
    for t in range(frames):
        frame = background.copy()
        x, y = 40 + 3 * t, HEIGHT - PERSON_PX
        frame[y:, x:x + PERSON_PX] = photo
        if people == 2:
            frame[y:, WIDTH - PERSON_PX - 40 - 3 * t: WIDTH - 40 - 3 * t] = photo[:, ::-1]
        writer.write(frame)
    writer.close()
    return Path(path)


def _one_run(clip, predictor, dataset, options, render: bool) -> dict:
    """Seconds per stage of one lift of ``clip`` (the detector set up before the clock starts)."""
    from starpose.lift.video import lift_video
    from starpose.lift.video_render import render_video
    from starpose.video.choose import open_detector

    clock = time.perf_counter()
    detector = open_detector(options.detector_model, max_people=options.max_people)
    setup = time.perf_counter() - clock
    try:
        clock, cpu = time.perf_counter(), time.process_time()
        lifted = lift_video(clip, predictor, dataset, options, detector=detector, progress=False)
        seconds = dict(lifted.seconds, wall=time.perf_counter() - clock, setup=setup,
                       cpu=time.process_time() - cpu)
    finally:
        detector.close()
    if render:
        with tempfile.TemporaryDirectory() as scratch:
            clock = time.perf_counter()
            render_video(lifted, dataset.skeleton, Path(scratch) / "render.mp4")
            seconds["render"] = time.perf_counter() - clock
    seconds["frames"] = lifted.scan.num_frames
    return seconds


def bundled_predictor(device=None):
    """The bundled model as ``starpose lift`` runs it (flip averaging, batch 32) and its dataset."""
    from starpose.datasets.registry import get_dataset
    from starpose.inference.predictors import TorchPredictor
    from starpose.models.checkpoints import model_from_checkpoint, read_checkpoint

    dataset = get_dataset("h36m")
    model = model_from_checkpoint(read_checkpoint("bundled"), "bundled", device=device)
    return TorchPredictor(model, flip=True, batch_size=32, skeleton=dataset.skeleton), dataset


def run_video_bench(*, frames: int = 90, people: int = 1, rounds: int = 3, device=None,
                    log=print) -> dict:
    """Measure (see the module docstring) with the bundled model; returns ``{mode: [seconds
    dict per round]}``."""
    from dataclasses import replace

    from starpose.lift.video import VideoOptions

    predictor, dataset = bundled_predictor(device)

    options = VideoOptions()
    runs = {"offline": [], "online": [], "render": []}
    with tempfile.TemporaryDirectory() as scratch:
        clip = make_clip(Path(scratch) / "bench.mp4", frames, people)
        log(f"clip: {frames} frames, {WIDTH}x{HEIGHT}, {FPS:g} frames/s, {people} person(s)")
        for k in range(rounds):
            for mode in runs:
                opts = replace(options, online=mode == "online")
                runs[mode].append(_one_run(clip, predictor, dataset, opts, mode == "render"))
                log(f"round {k + 1}/{rounds}: {mode} done")
    return runs


def _rate(rounds: list, *keys) -> str:
    rates = [r["frames"] / sum(r.get(k, 0.0) for k in keys) for r in rounds
             if sum(r.get(k, 0.0) for k in keys) > 0]
    if not rates:
        return "-"
    return f"{statistics.median(rates):7.1f}  ({min(rates):.1f}-{max(rates):.1f})"


def format_video_table(runs: dict) -> str:
    """The frames/s table of :func:`run_video_bench` (median over rounds, min-max)."""
    off, on, ren = runs["offline"], runs["online"], runs["render"]
    rows = [("decode", _rate(off, "decode")), ("detector", _rate(off, "detect")),
            ("tracking", _rate(off, "track")), ("lifter (offline windows)", _rate(off, "lift")),
            ("lifter (online, causal)", _rate(on, "lift")), ("render", _rate(ren, "render")),
            ("end to end, offline, no render", _rate(off, "wall")),
            ("end to end, online, no render", _rate(on, "wall")),
            ("end to end, offline + render", _rate(ren, "wall", "render")),
            ("offline, per CPU-second (all threads)", _rate(off, "cpu")),
            ("online, per CPU-second (all threads)", _rate(on, "cpu"))]
    latency = [1000 * (r["detect"] + r["track"] + r["lift"]) / r["frames"] for r in on]
    setup = [r["setup"] for r in off + on + ren]
    lines = [f"{'stage':34s} frames/s (median, min-max over {len(off)} rounds)"]
    lines += [f"{name:34s} {value}" for name, value in rows]
    lines.append(f"{'online latency per frame':34s} {statistics.median(latency):7.1f} ms "
                 f"({min(latency):.1f}-{max(latency):.1f}); look-ahead 0 frames")
    lines.append(f"{'detector set-up (once per video)':34s} {statistics.median(setup):7.2f} s")
    return "\n".join(lines)
