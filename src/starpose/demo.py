"""``starpose demo``: the whole pipeline on synthetic data, on a CPU, in minutes.

Generates the ``small`` synthetic Human3.6M-format dataset (if absent), trains a small
Star-MixSTE on its noisy 2D keypoints, evaluates it with the published and the clean protocol,
compares it with a trivial baseline (the mean training pose), and writes a report folder:
``report.md`` (per-action tables), ``training_curves.png``, ``per_joint_error.png``,
``sequence.gif`` (2D input beside the predicted and the true 3D skeletons) and ``metrics.json``.
"""
from __future__ import annotations

import json
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from starpose import metrics
from starpose.data.h36m import FILE_3D, Sequence, file_2d
from starpose.data.windows import eval_window_starts
from starpose.errors import StarposeError
from starpose.evaluate import (METRIC_TITLES, action_table, clean_sequence_errors, errors_of_predictions,
                               format_table, predict_all, target_windows)
from starpose.io import atomic_write_text
from starpose.models.checkpoints import load_model
from starpose.train import TrainConfig, Trainer

KEYPOINTS = "noisy"
#: A CPU-sized recipe: the whole demo takes under 8 minutes on 2 slow cores (AMD EPYC without
#: AVX-512: 7m40s; 32 windows per batch gave 87 instead of 105 mm but took 13-16 minutes there).
#: Per-epoch validation on every 12th test sequence (camera 0 of every third take).
DEMO_TRAINING = dict(preset="star-mixste-27", epochs=12, batch_size=16, lr=1e-3,
                     max_batches_per_epoch=60, val_stride=12, eval_batch_size=128)


@dataclass
class DemoResult:
    attention: str
    run_dir: Path
    published: dict
    clean: dict
    per_joint_mm: np.ndarray
    seconds: float
    clean_overlap: dict | None = None  # clean protocol lifted with overlapping windows (stride F/2)


def ensure_data(data_dir: Path, seed: int) -> None:
    if data_dir.exists() and not data_dir.is_dir():
        raise StarposeError(f"{data_dir}: exists and is not a folder (the synthetic dataset goes there)")
    if (data_dir / FILE_3D).is_file() and (data_dir / file_2d(KEYPOINTS)).is_file():
        print(f"using the synthetic dataset in {data_dir}")
        return
    from starpose.data.synthetic import generate_dataset

    print(f"generating the 'small' synthetic Human3.6M-format dataset in {data_dir} ...")
    data_dir.mkdir(parents=True, exist_ok=True)
    generate_dataset(data_dir, preset="small", seed=seed)


def mean_pose_baseline(train: list[Sequence], test: list[Sequence], frames: int) -> dict[str, float]:
    """Average errors (mm) of predicting the mean training pose (root-relative), counted like the
    models: the published protocol on evaluation windows of ``frames`` frames."""
    mean = np.concatenate([s.positions_3d for s in train]).mean(axis=0).astype(np.float32)
    mean[0] = 0.0  # joints 1.. of a Sequence are root-relative already; the root is predicted as 0
    predictions = [torch.from_numpy(mean).expand(len(eval_window_starts(seq.num_frames, frames)), frames, -1, -1)
                   for seq in test]
    return action_table(errors_of_predictions(test, predictions))["Average"]


def per_joint_error(sequences: list[Sequence], predictions: list[torch.Tensor]) -> np.ndarray:
    """Mean error (mm) of each joint over all evaluation windows."""
    pred = np.concatenate([p.numpy() for p in predictions])
    target = np.concatenate([target_windows(s, p.shape[1]).numpy() for s, p in zip(sequences, predictions)])
    return 1000 * metrics.per_joint_error(pred, target)


def train_and_evaluate(data_dir: Path, out: Path, attention: str, seed: int,
                       recipe: dict) -> tuple[DemoResult, Trainer]:
    begin = time.perf_counter()
    size = recipe["preset"].removeprefix("star-")  # the same size for both attentions
    recipe = dict(recipe, preset=f"star-{size}" if attention == "star" else size)
    config = TrainConfig(data_dir=str(data_dir), out=str(out / f"run-{attention}"), keypoints=KEYPOINTS,
                         attention=attention, seed=seed, device="cpu", **recipe)
    print(f"\ntraining {config.preset} ({attention} attention) on the CPU "
          f"({recipe['epochs']} epochs of {recipe['max_batches_per_epoch']} batches) ...")
    trainer = Trainer(config)
    trainer.fit()
    model = load_model(trainer.out / "best.pt")
    print("evaluating on the test subjects (published and clean protocols) ...")
    predictions = predict_all(model, trainer.test_sequences, batch_size=128)
    tables = {p: action_table(errors_of_predictions(trainer.test_sequences, predictions, p))
              for p in ("published", "clean")}
    overlap = action_table(clean_sequence_errors(model, trainer.test_sequences, batch_size=128))
    return DemoResult(attention, trainer.out, tables["published"], tables["clean"],
                      per_joint_error(trainer.test_sequences, predictions), time.perf_counter() - begin,
                      overlap), trainer


def curves_name(index: int, result: DemoResult) -> str:
    return "training_curves.png" if index == 0 else f"training_curves_{result.attention}.png"


def plot_curves(out: Path, results: list[DemoResult], trainers: list[Trainer]) -> None:
    from starpose.viz.plots import plot_training_curves

    for index, (result, trainer) in enumerate(zip(results, trainers)):
        plot_training_curves(trainer.rows, out / curves_name(index, result),
                             title=f"{trainer.config.preset} ({result.attention} attention)")


def animate_test_sequence(out: Path, result: DemoResult, test: list[Sequence]) -> str:
    """``sequence.gif``: the first camera-0 test sequence; returns its caption."""
    from starpose.inference import predict_sequence
    from starpose.viz.animation import render_animation

    seq = next(s for s in test if s.camera_index == 0)
    pred = predict_sequence(load_model(result.run_dir / "best.pt"), seq.keypoints_2d)
    truth = seq.positions_3d.copy()
    truth[:, 0] = 0
    frames = render_animation(seq.keypoints_2d, {f"Prediction ({result.attention})": pred, "Ground truth": truth},
                              out / "sequence.gif", fps=50, azimuth=seq.camera.azimuth, limit=150, downsample=2,
                              size=3)
    return f"{frames} frames of {seq.subject} {seq.action}, camera {seq.camera_index}"


def write_report(out: Path, results: list[DemoResult], baseline: dict, trainers: list[Trainer]) -> None:
    """report.md, metrics.json and the figures of one or several trained models."""
    from starpose.viz.plots import plot_per_joint_error

    plot_curves(out, results, trainers)
    plot_per_joint_error({f"{r.attention} attention": r.per_joint_mm for r in results}, out / "per_joint_error.png")
    caption = animate_test_sequence(out, results[0], trainers[0].test_sequences)
    config = trainers[0].config
    models = ", ".join(f"`{t.config.preset}`" for t in trainers)
    lines = ["# starpose demo report", "",
             f"{models} trained on the synthetic `small` set's `{KEYPOINTS}` 2D keypoints "
             f"(train {', '.join(config.subjects_train)}; test {', '.join(config.subjects_test)}).", "",
             comparison_table(results, baseline), "",
             f"Trivial baseline (mean training pose), protocol #1: **{baseline['mpjpe']:.2f} mm**", ""]
    for r in results:
        lines += [format_table(r.published, f"{r.attention} attention, published protocol"), "",
                  format_table(r.clean, f"{r.attention} attention, clean protocol (every frame once)"), ""]
        if r.clean_overlap is not None:
            lines += [f"Acceleration error ({r.attention}, clean protocol): "
                      f"**{r.clean['Average']['accel_error']:.2f} mm** with non-overlapping windows, "
                      f"**{r.clean_overlap['Average']['accel_error']:.2f} mm** with overlapping windows "
                      "(stride F/2, Hann weights, as `starpose lift` lifts).", ""]
    lines += [f"![training curves, {r.attention}]({curves_name(i, r)})" for i, r in enumerate(results)]
    lines += ["", "![per-joint error](per_joint_error.png)", "", f"![test sequence](sequence.gif) ({caption})", ""]
    atomic_write_text(out / "report.md", "\n".join(lines))
    summary = {"baseline_mpjpe": baseline["mpjpe"],
               "models": {r.attention: {"preset": t.config.preset, "published": r.published, "clean": r.clean,
                                        "clean_overlap": r.clean_overlap,
                                        "seconds": r.seconds, "per_joint_mm": r.per_joint_mm.tolist()}
                          for r, t in zip(results, trainers)}}
    atomic_write_text(out / "metrics.json", json.dumps(summary, indent=2))


def comparison_table(results: list[DemoResult], baseline: dict) -> str:
    names = ["mpjpe", "p_mpjpe", "mpjve", "accel_error"]
    head = "| Model | " + " | ".join(f"{METRIC_TITLES[n]} (mm)" for n in names) + " | time (s) |"
    lines = [head, "|---|" + "---:|" * (len(names) + 1)]
    for r in results:
        avg_pub, avg_clean = r.published["Average"], r.clean["Average"]
        values = [avg_pub["mpjpe"], avg_pub["p_mpjpe"], avg_pub["mpjve"], avg_clean["accel_error"]]
        lines.append(f"| {r.attention} | " + " | ".join(f"{v:.2f}" for v in values) + f" | {r.seconds:.0f} |")
    lines.append(f"| mean-pose baseline | {baseline['mpjpe']:.2f} | | | | |")
    return "\n".join(lines)


def run_demo(out: Path, data_dir: Path, attention: str = "star", compare: bool = False, seed: int = 0,
             epochs: int | None = None, **recipe_overrides) -> list[DemoResult]:
    """Everything ``starpose demo`` does; ``recipe_overrides`` replace entries of :data:`DEMO_TRAINING`."""
    recipe = dict(DEMO_TRAINING, **recipe_overrides)
    if epochs:
        recipe["epochs"] = epochs
    if out.exists() and not out.is_dir():
        raise StarposeError(f"{out}: exists and is not a folder")
    ensure_data(data_dir, seed)
    out.mkdir(parents=True, exist_ok=True)
    order = ["star", "vanilla"] if compare else [attention]
    results, trainers = [], []
    for att in order:
        if (out / f"run-{att}").exists():
            shutil.rmtree(out / f"run-{att}")  # the demo always starts afresh
        result, trainer = train_and_evaluate(data_dir, out, att, seed, recipe)
        results.append(result)
        trainers.append(trainer)
    baseline = mean_pose_baseline(trainers[0].train_sequences, trainers[0].test_sequences,
                                  trainers[0].config.model_config().num_frames)
    write_report(out, results, baseline, trainers)
    print()
    print(format_table(results[0].published, f"{results[0].attention} attention, published protocol"))
    print()
    print(comparison_table(results, baseline))
    best = results[0].published["Average"]["mpjpe"]
    print(f"\nprotocol #1: {best:.2f} mm vs {baseline['mpjpe']:.2f} mm for the mean training pose "
          f"({baseline['mpjpe'] / best:.1f}x lower)")
    print(f"report: {out / 'report.md'}")
    return results
