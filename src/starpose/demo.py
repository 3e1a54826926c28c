"""``starpose demo``: the whole pipeline on synthetic data, on a CPU, in minutes.

Generates the ``small`` synthetic copy of a dataset (Human3.6M by default; HumanEva-I with
``--dataset humaneva``) if absent, trains a small Star-MixSTE on its noisy 2D keypoints (the
dataset's CPU preset, e.g. ``star-mixste-27-humaneva``, and its train/test subjects), evaluates
it with the published and the clean protocol (the dataset's evaluated actions: HumanEva-I's Walk,
Jog, Box), compares it with a trivial baseline (the mean training pose) and with the bundled model
when it lifts that dataset's joints (a reference row; ``--quick`` reports the bundled model alone,
training nothing), and writes a report folder:
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
from starpose.datasets.registry import DEFAULT_DATASET, get_dataset
from starpose.data.dataset import Dataset
from starpose.datasets.h36m.files import Sequence
from starpose.data.windows import eval_window_starts
from starpose.errors import CheckpointError, OptionError, StarposeError
from starpose.evaluate.protocol import (METRIC_TITLES, action_table, clean_sequence_errors, errors_of_predictions,
                               format_table, predict_all, target_windows)
from starpose.io import atomic_write_text
from starpose.models.bundled import BUNDLED as BUNDLED_NAME
from starpose.models.checkpoints import load_model
from starpose.models.presets import PRESETS
from starpose.train.loop import TrainConfig, Trainer

KEYPOINTS = "noisy"
#: A CPU-sized recipe: the whole demo takes under 8 minutes on 2 slow cores (AMD EPYC without
#: AVX-512: 7m40s; 32 windows per batch gave 87 instead of 105 mm but took 13-16 minutes there).
#: Per-epoch validation on every 12th test sequence (camera 0 of every third take).
DEMO_TRAINING = dict(preset="star-mixste-27", epochs=12, batch_size=16, lr=1e-3,
                     max_batches_per_epoch=60, val_stride=12, eval_batch_size=128)
#: ``--quick`` evaluates every 7th test sequence: 7 is prime to the 4 cameras and to the 8
#: sequences (2 takes x 4 cameras) of each subject and action, so every camera, subject and action
#: is seen (35 of the small set's 240 sequences).
QUICK_STRIDE = 7


@dataclass
class DemoResult:
    """One model's numbers on the test subjects: a model the demo trained, or the bundled one."""

    attention: str  # the row label: "star", "vanilla" or "bundled"
    checkpoint: Path | str  # what load_model reads: a run's best.pt, or "bundled"
    published: dict
    clean: dict
    per_joint_mm: np.ndarray
    seconds: float
    clean_overlap: dict | None = None  # clean protocol lifted with overlapping windows (stride F/2)
    preset: str = ""
    rows: list | None = None  # training curves (None: not trained by the demo)


def ensure_data(data_dir: Path, seed: int, dataset: Dataset | None = None) -> None:
    """The synthetic ``small`` copy of ``dataset`` (default Human3.6M) in ``data_dir``, generated
    when its files are not there yet."""
    dataset = dataset or get_dataset(DEFAULT_DATASET)
    if data_dir.exists() and not data_dir.is_dir():
        raise StarposeError(f"{data_dir}: exists and is not a folder (the synthetic dataset goes there)")
    if (data_dir / dataset.file_3d).is_file() and (data_dir / dataset.file_2d_for(KEYPOINTS)).is_file():
        print(f"using the synthetic {dataset.title} dataset in {data_dir}")
        return
    if dataset.synthesize is None:
        raise StarposeError(f"no synthetic version of {dataset.title} to run the demo on")
    print(f"generating the 'small' synthetic {dataset.title} dataset in {data_dir} ...")
    data_dir.mkdir(parents=True, exist_ok=True)
    dataset.synthesize(data_dir, "small", seed)


def demo_preset(base: str, dataset: Dataset) -> str:
    """``base`` in the dataset's own size when it has one (``star-mixste-27-humaneva``)."""
    own = f"{base}-{dataset.name}"
    return own if own in PRESETS else base


def mean_pose_baseline(train: list[Sequence], test: list[Sequence], frames: int,
                       root: int = 0) -> dict[str, float]:
    """Average errors (mm) of predicting the mean training pose (root-relative), counted like the
    models: the published protocol on evaluation windows of ``frames`` frames."""
    mean = np.concatenate([s.positions_3d for s in train]).mean(axis=0).astype(np.float32)
    mean[root] = 0.0  # the other joints of a Sequence are root-relative already; the root is predicted as 0
    predictions = [torch.from_numpy(mean).expand(len(eval_window_starts(seq.num_frames, frames)), frames, -1, -1)
                   for seq in test]
    return action_table(errors_of_predictions(test, predictions))["Average"]


def per_joint_error(sequences: list[Sequence], predictions: list[torch.Tensor]) -> np.ndarray:
    """Mean error (mm) of each joint over all evaluation windows."""
    pred = np.concatenate([p.numpy() for p in predictions])
    target = np.concatenate([target_windows(s, p.shape[1]).numpy() for s, p in zip(sequences, predictions)])
    return 1000 * metrics.per_joint_error(pred, target)


def train_and_evaluate(data_dir: Path, out: Path, attention: str, seed: int,
                       recipe: dict, dataset: Dataset | None = None) -> tuple[DemoResult, Trainer]:
    dataset = dataset or get_dataset(DEFAULT_DATASET)
    begin = time.perf_counter()
    size = recipe["preset"].removeprefix("star-")  # the same size for both attentions
    recipe = dict(recipe, preset=demo_preset(f"star-{size}" if attention == "star" else size, dataset))
    config = TrainConfig(data_dir=str(data_dir), out=str(out / f"run-{attention}"), keypoints=KEYPOINTS,
                         attention=attention, seed=seed, device="cpu", dataset=dataset.name, **recipe)
    print(f"\ntraining {config.preset} ({attention} attention) on the CPU "
          f"({recipe['epochs']} epochs of {recipe['max_batches_per_epoch']} batches) ...")
    trainer = Trainer(config)
    trainer.fit()
    print("evaluating on the test subjects (published and clean protocols) ...")
    result = evaluate_checkpoint(trainer.out / "best.pt", attention, trainer.test_sequences, dataset.skeleton)
    result.seconds, result.preset, result.rows = time.perf_counter() - begin, config.preset, trainer.rows
    return result, trainer


def evaluate_checkpoint(checkpoint: Path | str, label: str, test: list[Sequence], skeleton=None,
                        overlap: bool = True) -> DemoResult:
    """Published and clean protocol tables (clean: also with overlapping windows, unless not
    ``overlap``) of a checkpoint; ``skeleton``: the left/right joints of the flip (default
    Human3.6M's)."""
    begin = time.perf_counter()
    model = load_model(checkpoint)
    predictions = predict_all(model, test, batch_size=128, skeleton=skeleton)
    tables = {p: action_table(errors_of_predictions(test, predictions, p)) for p in ("published", "clean")}
    overlap = action_table(clean_sequence_errors(model, test, batch_size=128, skeleton=skeleton)) if overlap else None
    return DemoResult(label, checkpoint, tables["published"], tables["clean"], per_joint_error(test, predictions),
                      time.perf_counter() - begin, overlap)


def bundled_result(test: list[Sequence], dataset: Dataset | None = None,
                   overlap: bool = True) -> DemoResult | None:
    """The bundled model on the same test sequences (None, said once, when it is unavailable or
    lifts another dataset's joints than ``dataset``'s, default Human3.6M); ``overlap``: also the
    clean protocol with overlapping windows (a reference row beside a trained model skips it: the
    manifest records it, :func:`bundled_note`)."""
    from starpose.datasets.registry import recorded_dataset
    from starpose.models.bundled import BUNDLED, read_manifest
    from starpose.models.checkpoints import read_checkpoint

    dataset = dataset or get_dataset(DEFAULT_DATASET)
    try:
        preset = read_manifest()["preset"]
        trained_on = recorded_dataset(read_checkpoint(BUNDLED), DEFAULT_DATASET)
        if trained_on != dataset.name:
            print(f"no reference row: the bundled model lifts {get_dataset(trained_on).title}'s joints, "
                  f"not {dataset.title}'s")
            return None
        print("evaluating the bundled model (reference) ...")
        result = evaluate_checkpoint(BUNDLED, "bundled", test, dataset.skeleton, overlap=overlap)
    except (CheckpointError, KeyError) as err:
        print(f"no reference row for the bundled model: {err}")
        return None
    result.preset = preset
    return result


def curves_name(index: int, result: DemoResult) -> str:
    return "training_curves.png" if index == 0 else f"training_curves_{result.attention}.png"


def trained(results: list[DemoResult]) -> list[DemoResult]:
    return [r for r in results if r.rows is not None]


def plot_curves(out: Path, results: list[DemoResult]) -> None:
    from starpose.viz.plots import plot_training_curves

    for index, result in enumerate(trained(results)):
        plot_training_curves(result.rows, out / curves_name(index, result),
                             title=f"{result.preset} ({result.attention} attention)")


def animate_test_sequence(out: Path, result: DemoResult, test: list[Sequence], dataset: Dataset) -> str:
    """``sequence.gif``: the first camera-0 test sequence, with ``dataset``'s skeleton; returns its caption."""
    from starpose.inference.predictors import predict_sequence
    from starpose.viz.animation import render_animation

    from starpose.data.model_input import sequence_input

    seq = next(s for s in test if s.camera_index == 0)
    model = load_model(result.checkpoint)
    pred = predict_sequence(model, sequence_input(seq, model.input_norm).keypoints_2d,
                            skeleton=dataset.skeleton, zero_root=False)
    truth = seq.positions_3d.copy()
    pred[:, dataset.root] = truth[:, dataset.root] = 0
    frames = render_animation(seq.keypoints_2d, {f"Prediction ({result.attention})": pred, "Ground truth": truth},
                              out / "sequence.gif", fps=dataset.fps, azimuth=seq.camera.azimuth, limit=150,
                              downsample=2, size=3, skeleton=dataset.skeleton)
    return f"{frames} frames of {seq.subject} {seq.action}, camera {seq.camera_index}"


def write_report(out: Path, results: list[DemoResult], baseline: dict, test: list[Sequence],
                 subjects: tuple[list[str], list[str]], dataset: Dataset | None = None,
                 note: str | None = None) -> None:
    """report.md, metrics.json and the figures of the trained models and the bundled reference."""
    from starpose.viz.plots import plot_per_joint_error

    dataset = dataset or get_dataset(DEFAULT_DATASET)
    plot_curves(out, results)
    plot_per_joint_error({label(r): r.per_joint_mm for r in results}, out / "per_joint_error.png",
                         names=dataset.skeleton.names)
    caption = animate_test_sequence(out, results[0], test, dataset)
    lines = ["# starpose demo report", "", introduction(results, subjects, dataset), "",
             comparison_table(results, baseline), "", *([note, ""] if note else []),
             f"Trivial baseline (mean training pose), protocol #1: **{baseline['mpjpe']:.2f} mm**", ""]
    for r in results:
        lines += [format_table(r.published, f"{label(r)}, published protocol"), "",
                  format_table(r.clean, f"{label(r)}, clean protocol (every frame once)"), ""]
        if r.clean_overlap is not None:
            lines += [f"Acceleration error ({r.attention}, clean protocol): "
                      f"**{r.clean['Average']['accel_error']:.2f} mm** with non-overlapping windows, "
                      f"**{r.clean_overlap['Average']['accel_error']:.2f} mm** with overlapping windows "
                      "(stride F/2, Hann weights, as `starpose lift` lifts).", ""]
    lines += [f"![training curves, {r.attention}]({curves_name(i, r)})" for i, r in enumerate(trained(results))]
    lines += ["", "![per-joint error](per_joint_error.png)", "", f"![test sequence](sequence.gif) ({caption})", ""]
    atomic_write_text(out / "report.md", "\n".join(lines))
    summary = {"dataset": dataset.name, "baseline_mpjpe": baseline["mpjpe"],
               "models": {r.attention: {"preset": r.preset, "trained_by_demo": r.rows is not None,
                                        "published": r.published, "clean": r.clean,
                                        "clean_overlap": r.clean_overlap,
                                        "seconds": r.seconds, "per_joint_mm": r.per_joint_mm.tolist()}
                          for r in results}}
    atomic_write_text(out / "metrics.json", json.dumps(summary, indent=2))


def label(result: DemoResult) -> str:
    return "bundled model" if result.rows is None else f"{result.attention} attention"


def introduction(results: list[DemoResult], subjects: tuple[list[str], list[str]],
                 dataset: Dataset | None = None) -> str:
    dataset = dataset or get_dataset(DEFAULT_DATASET)
    train, test = subjects
    actions = f"; actions {', '.join(dataset.actions_evaluated)}" if dataset.actions_evaluated else ""
    text = []
    if trained(results):
        models = ", ".join(f"`{r.preset}`" for r in trained(results))
        text.append(f"{models} trained on the synthetic {dataset.title} `small` set's `{KEYPOINTS}` 2D "
                    f"keypoints (train {', '.join(train)}; test {', '.join(test)}{actions}).")
    if any(r.rows is None for r in results):
        which = "the same test sequences" if trained(results) else f"every {QUICK_STRIDE}th test sequence (--quick)"
        text.append("The bundled model (the one `starpose lift` uses without `--checkpoint`; "
                    f"docs/bundled-model.md) is evaluated on {which} "
                    f"(test {', '.join(test)}): a model trained by starpose on its own synthetic data.")
    return " ".join(text)


def bundled_note(results: list[DemoResult], shown: int, total: int) -> str | None:
    """Why the bundled model's row differs from its published numbers (README,
    docs/bundled-model.md): the sequences and the windows behind each; None without that row."""
    from starpose.models.bundled import read_manifest

    row = next((r for r in results if r.rows is None), None)
    numbers = read_manifest().get("numbers", {}) if row is not None else {}
    if row is None or "mpjpe" not in numbers.get("h36m_published", {}):
        return None
    p1, accel = numbers["h36m_published"]["mpjpe"], numbers.get("h36m_clean", {}).get("accel_error")
    which = "all" if shown == total else f"{shown} (every {QUICK_STRIDE}th)"
    overlap = row.clean_overlap["Average"]["accel_error"] if row.clean_overlap else None
    text = (f"Bundled model: this table evaluates {which} of the {total} test sequences, and its "
            "acceleration column uses non-overlapping windows")
    if overlap is not None:
        text += f" ({overlap:.2f} mm with overlapping windows, as `starpose lift` lifts)"
    return text + (f"; its published numbers ({p1:.1f} mm protocol #1"
                   + (f", acceleration error {accel:.1f} mm with overlapping windows" if accel else "")
                   + ", docs/bundled-model.md) are over all 240 test sequences of the synthetic "
                   "`small` set (S9/S11).")


def comparison_table(results: list[DemoResult], baseline: dict) -> str:
    names = ["mpjpe", "p_mpjpe", "mpjve", "accel_error"]
    head = "| Model | " + " | ".join(f"{METRIC_TITLES[n]} (mm)" for n in names) + " | time (s) |"
    lines = [head, "|---|" + "---:|" * (len(names) + 1)]
    for r in results:
        avg_pub, avg_clean = r.published["Average"], r.clean["Average"]
        values = [avg_pub["mpjpe"], avg_pub["p_mpjpe"], avg_pub["mpjve"], avg_clean["accel_error"]]
        name = r.attention if r.rows is not None else f"{r.attention} (reference)"
        lines.append(f"| {name} | " + " | ".join(f"{v:.2f}" for v in values) + f" | {r.seconds:.0f} |")
    lines.append(f"| mean-pose baseline | {baseline['mpjpe']:.2f} | | | | |")
    return "\n".join(lines)


def run_demo(out: Path, data_dir: Path, attention: str = "star", compare: bool = False, seed: int = 0,
             epochs: int | None = None, quick: bool = False, dataset: str = DEFAULT_DATASET,
             **recipe_overrides) -> list[DemoResult]:
    """Everything ``starpose demo`` does on ``dataset`` (a name of :mod:`starpose.datasets.registry`);
    ``recipe_overrides`` replace entries of :data:`DEMO_TRAINING`.

    ``quick``: train nothing, report the bundled model alone."""
    recipe = dict(DEMO_TRAINING, **recipe_overrides)
    if epochs:
        recipe["epochs"] = epochs
    if out.exists() and not out.is_dir():
        raise StarposeError(f"{out}: exists and is not a folder")
    description = get_dataset(dataset)
    if description.evaluate_report is not None:  # MPI-INF-3DHP: PCK / AUC, which the report lacks
        raise OptionError(f"<dataset> {dataset}: the demo's report has no place for {description.title}'s "
                          "own evaluation; run starpose synth, train and evaluate with this dataset "
                          "instead (docs/mpi-inf-3dhp.md)")
    ensure_data(data_dir, seed, description)
    out.mkdir(parents=True, exist_ok=True)
    if quick:
        train, test = split_sequences(data_dir, description)
        total = len(test)
        test = test[::QUICK_STRIDE]
        results = [bundled_result(test, description)]
        if results[0] is None:
            raise StarposeError(f"a quick demo needs a bundled model of {description.title}'s joints, "
                                "which this installation lacks")
        frames = load_model(BUNDLED_NAME).config.num_frames
    else:
        results, trainers = train_models(out, data_dir, ["star", "vanilla"] if compare else [attention],
                                         seed, recipe, description)
        train, test = trainers[0].train_sequences, trainers[0].test_sequences
        total = len(test)
        results += [r for r in [bundled_result(test, description, overlap=False)] if r is not None]
        frames = trainers[0].config.model_config().num_frames
    baseline = mean_pose_baseline(train, test, frames, description.root)
    subjects = (sorted({s.subject for s in train}), sorted({s.subject for s in test}))
    note = bundled_note(results, len(test), total)
    write_report(out, results, baseline, test, subjects, description, note)
    print()
    print(format_table(results[0].published, f"{label(results[0])}, published protocol"))
    print()
    print(comparison_table(results, baseline))
    if note:
        print(f"\n{note}")
    best = results[0].published["Average"]["mpjpe"]
    print(f"\nprotocol #1: {best:.2f} mm vs {baseline['mpjpe']:.2f} mm for the mean training pose "
          f"({baseline['mpjpe'] / best:.1f}x lower)")
    print(f"report: {out / 'report.md'}")
    return results


def train_models(out: Path, data_dir: Path, attentions: list[str], seed: int,
                 recipe: dict, dataset: Dataset | None = None) -> tuple[list[DemoResult], list[Trainer]]:
    results, trainers = [], []
    for att in attentions:
        if (out / f"run-{att}").exists():
            shutil.rmtree(out / f"run-{att}")  # the demo always starts afresh
        result, trainer = train_and_evaluate(data_dir, out, att, seed, recipe, dataset)
        results.append(result)
        trainers.append(trainer)
    return results, trainers


def split_sequences(data_dir: Path, dataset: Dataset | None = None) -> tuple[list[Sequence], list[Sequence]]:
    """The default training and test subjects' sequences of the synthetic set (noisy 2D; the
    dataset's evaluated actions)."""
    dataset = dataset or get_dataset(DEFAULT_DATASET)
    sequences = dataset.load(data_dir, KEYPOINTS, None)
    actions = dataset.actions_evaluated or None
    return (dataset.select(sequences, subjects=dataset.subjects_train, actions=actions),
            dataset.select(sequences, subjects=dataset.subjects_test, actions=actions))
