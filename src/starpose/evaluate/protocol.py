"""Evaluation with the protocols behind the published Human3.6M tables.

Published protocol (``protocol="published"``), counted exactly as the published code counts:
each test sequence is cut into evaluation windows ``(W, F, J, 3)``, the prediction is the mean of
the outputs on the input and on the flipped input (flipped back), the target's root is set to 0
(the prediction's is not). Per sequence, MPJPE (#1), P-MPJPE (#2: per-frame Procrustes), N-MPJPE
(#3: per-frame scale) and MPJVE (first differences along the W*F frames in window order, across
window borders) are weighted by W*F; an action's number is the weighted mean over its sequences
(all test subjects and cameras, takes grouped by the name before the first space); the reported
average is the plain mean over actions.

Clean protocol (``protocol="clean"``): each sequence is lifted as ``starpose lift`` lifts it,
through overlapping windows blended with edge-falling weights
(:func:`starpose.inference.predictors.predict_sequence`, stride F/2), so that every frame counts once,
velocities and accelerations stay inside the sequence and carry no window-border jumps, plus the
acceleration error (jitter).
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np
import torch

from starpose import metrics
from starpose.datasets.h36m.files import Sequence
from starpose.data.model_input import input_norm_of, sequences_input
from starpose.datasets.registry import DEFAULT_DATASET, get_dataset
from starpose.data.windows import eval_windows, reassemble
from starpose.errors import StarposeError
from starpose.inference.predictors import predict_windows

PUBLISHED_METRICS = ("mpjpe", "p_mpjpe", "n_mpjpe", "mpjve")
CLEAN_METRICS = PUBLISHED_METRICS + ("accel_error",)
METRIC_FUNCTIONS = {
    "mpjpe": metrics.mpjpe, "p_mpjpe": metrics.p_mpjpe, "n_mpjpe": metrics.n_mpjpe,
    "mpjve": metrics.mean_velocity_error, "accel_error": metrics.acceleration_error,
}
METRIC_TITLES = {
    "mpjpe": "MPJPE", "p_mpjpe": "P-MPJPE", "n_mpjpe": "N-MPJPE", "mpjve": "MPJVE", "accel_error": "Accel",
}


@dataclass
class SequenceErrors:
    """Errors (mm) of one sequence and the weight it carries in its action's mean."""

    subject: str
    action: str
    weight: int
    errors: dict[str, float] = field(default_factory=dict)


def predict_all(model, sequences: list[Sequence], flip: bool = True, batch_size: int = 64,
                amp: str | None = None, skeleton=None) -> list[torch.Tensor]:
    """Predictions ``(W, F, J, 3)`` on the evaluation windows of every sequence.

    All windows go through the model in large batches, whatever sequence they come from;
    ``skeleton`` gives the flip's left/right joints (default: Human3.6M's 17).
    """
    frames = model.config.num_frames
    device = next(model.parameters()).device
    sequences = sequences_input(sequences, input_norm_of(model))
    windows = [eval_windows(s.keypoints_2d, frames) for s in sequences]
    counts = [len(w) for w in windows]
    stacked = torch.from_numpy(np.concatenate(windows)).to(device)
    pred = predict_windows(model, stacked, flip=flip, batch_size=batch_size, amp=amp, skeleton=skeleton).cpu()
    return list(pred.split(counts))


def target_windows(sequence: Sequence, frames: int) -> torch.Tensor:
    """The 3D target on evaluation windows, root set to 0: ``(W, F, J, 3)``."""
    target = eval_windows(sequence.positions_3d, frames).copy()
    target[:, :, 0] = 0.0
    return torch.from_numpy(target)


def published_errors(pred: torch.Tensor, target: torch.Tensor) -> dict[str, float]:
    """Errors (mm) of one sequence's windows ``(W, F, J, 3)`` as the published code counts them:
    MPJPE and N-MPJPE in the windows' dtype (float32, as there), P-MPJPE and MPJVE in float64 on
    the W*F frames in window order."""
    frames = (pred.reshape(-1, *pred.shape[-2:]).numpy(), target.reshape(-1, *target.shape[-2:]).numpy())
    return {
        "mpjpe": _millimetres(metrics.mpjpe, pred, target),
        "p_mpjpe": _millimetres(metrics.p_mpjpe, *frames),
        "n_mpjpe": _millimetres(metrics.n_mpjpe, pred, target),
        "mpjve": _millimetres(metrics.mean_velocity_error, *frames, too_short=0.0),
    }


def clean_errors(pred: np.ndarray, target: np.ndarray) -> dict[str, float]:
    """Errors (mm) of one reassembled sequence ``(T, J, 3)``, every frame counted once; NaN for
    a velocity (acceleration) error of a sequence shorter than 2 (3) frames."""
    return {name: _millimetres(METRIC_FUNCTIONS[name], pred, target) for name in CLEAN_METRICS}


def _millimetres(metric, pred, target, too_short: float = float("nan")) -> float:
    """``metric`` (metres in) in millimetres, or ``too_short`` when the poses ``(T, ..., J, 3)``
    have fewer frames along the first axis than its finite differences need."""
    if len(pred) < metrics.frames_needed(metric):
        return too_short
    return 1000 * float(metric(pred, target))


def sequence_errors(model, sequences: list[Sequence], protocol: str = "published", flip: bool = True,
                    batch_size: int = 64, amp: str | None = None, skeleton=None) -> list[SequenceErrors]:
    if protocol == "clean":
        return clean_sequence_errors(model, sequences, flip=flip, batch_size=batch_size, amp=amp,
                                     skeleton=skeleton)
    predictions = predict_all(model, sequences, flip=flip, batch_size=batch_size, amp=amp, skeleton=skeleton)
    return errors_of_predictions(sequences, predictions, protocol)


def clean_sequence_errors(model, sequences: list[Sequence], flip: bool = True, batch_size: int = 64,
                          amp: str | None = None, stride: int | None = None,
                          skeleton=None) -> list[SequenceErrors]:
    """Clean-protocol errors of each sequence lifted through overlapping windows."""
    from starpose.inference.predictors import predict_sequence

    results = []
    for seq in sequences_input(sequences, input_norm_of(model)):
        pred = predict_sequence(model, seq.keypoints_2d, flip=flip, batch_size=batch_size, amp=amp,
                                stride=stride, zero_root=False, skeleton=skeleton)
        target = np.array(seq.positions_3d, dtype=np.float32)
        target[:, 0] = 0.0
        results.append(SequenceErrors(seq.subject, seq.action_group, seq.num_frames,
                                      clean_errors(pred, target)))
    return results


def errors_of_predictions(sequences: list[Sequence], predictions: list[torch.Tensor],
                          protocol: str = "published") -> list[SequenceErrors]:
    """Per-sequence errors of window predictions ``(W, F, J, 3)`` from :func:`predict_all`."""
    results = []
    for seq, pred in zip(sequences, predictions):
        target = target_windows(seq, pred.shape[1])
        if protocol == "published":
            errors, weight = published_errors(pred, target), pred.shape[0] * pred.shape[1]
        else:
            T = seq.num_frames
            errors = clean_errors(reassemble(pred.numpy(), T), reassemble(target.numpy(), T))
            weight = T
        results.append(SequenceErrors(seq.subject, seq.action_group, weight, errors))
    return results


def action_table(results: list[SequenceErrors]) -> dict[str, dict[str, float]]:
    """Per action: sum over its sequences of error * weight / sum of weights; plus ``Average``
    (the plain mean over actions)."""
    groups: dict[str, list[SequenceErrors]] = defaultdict(list)
    for r in results:
        groups[r.action].append(r)
    table = {}
    for action in sorted(groups):
        rows = groups[action]
        total = sum(r.weight for r in rows)
        table[action] = {
            name: sum(r.errors[name] * r.weight for r in rows) / total for name in rows[0].errors
        }
    names = next(iter(table.values())).keys()
    table["Average"] = {name: float(np.nanmean([row[name] for row in table.values()])) for name in names}
    return table


def evaluate_model(model, sequences: list[Sequence], protocol: str = "published", flip: bool = True,
                   by_subject: bool = False, batch_size: int = 64, amp: str | None = None,
                   skeleton=None) -> dict:
    """``{"all": table}``, with ``by_subject`` followed by ``{subject: table}`` for each subject
    (in order of appearance); tables from :func:`action_table`, from one pass over the model.

    ``skeleton`` gives the flip's left/right joints (default: Human3.6M's 17 joints)."""
    if protocol not in ("published", "clean"):
        # A programmer error: the command line offers only these two.
        raise ValueError(f"unknown protocol {protocol!r} (use 'published' or 'clean')")
    if not sequences:
        raise StarposeError("no test sequences to evaluate")
    was_training = model.training
    model.eval()
    try:
        results = sequence_errors(model, sequences, protocol, flip, batch_size, amp, skeleton)
    finally:
        model.train(was_training)
    tables = {"all": action_table(results)}
    if by_subject:
        for subject in dict.fromkeys(r.subject for r in results):
            tables[subject] = action_table([r for r in results if r.subject == subject])
    return tables


def format_table(table: dict[str, dict[str, float]], title: str = "") -> str:
    """A Markdown table: one row per action, one column per metric (mm)."""
    names = list(next(iter(table.values())).keys())
    header = "| Action | " + " | ".join(f"{METRIC_TITLES[n]} (mm)" for n in names) + " |"
    rule = "|---|" + "---:|" * len(names)
    rows = [f"| {a} | " + " | ".join(f"{v[n]:.2f}" for n in names) + " |" for a, v in table.items()]
    rows[-1] = rows[-1].replace("| Average |", "| **Average** |")
    return "\n".join(([f"### {title}", ""] if title else []) + [header, rule] + rows)


def check_model_fits(model, path, dataset=None) -> None:
    """The model must take the 2D keypoints of ``dataset`` (default: Human3.6M's 17 joints)."""
    cfg = model.config
    dataset = dataset or get_dataset(DEFAULT_DATASET)
    joints, title = dataset.num_joints, dataset.title
    if cfg.num_joints != joints or cfg.in_chans != 2:
        raise StarposeError(
            f"{path}: the model takes {cfg.num_joints} joints with {cfg.in_chans} channels, "
            f"but {title} keypoints have {joints} joints with 2 channels"
        )


def check_frames_fit(frames: int, sequences: list[Sequence], source) -> None:
    """A model whose windows are longer than every sequence would see mostly padding."""
    longest = max(s.num_frames for s in sequences)
    if frames > longest:
        raise StarposeError(f"{source}: the model takes windows of {frames} frames, but the longest "
                            f"sequence has {longest}; use a model with at most {longest} frames")
