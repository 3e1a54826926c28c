"""The MPI-INF-3DHP evaluation: PCK, AUC, MPJPE and P-MPJPE on the valid test frames.

Counted as the dataset's official evaluation counts (``mpii_evaluate_errors`` /
``mpii_compute_3d_pck``): each test sequence is lifted whole (evaluation windows, flip averaging
with the layout's left/right lists, every frame predicted once), the prediction's root (pelvis)
is set to 0, and only frames flagged ``valid`` count. Errors are Euclidean distances in mm of the
root-relative joints. PCK (< 150 mm) and AUC (mean PCK at 0, 5, ..., 150 mm) use the 14 joints of
the 8 joint groups, the total weighting each group by its joint count; MPJPE and P-MPJPE use all
17 joints (16 for a Human3.6M model: see :mod:`starpose.datasets.mpi_inf_3dhp.joint_map`).

Tables: one row per test sequence, ``Overall`` pooling all valid frames, one row per scene (the
valid-frame-weighted mean of its sequences' rows), and one row per activity (pooling the valid
frames of that activity over all sequences, when the file has activity labels).
"""
from __future__ import annotations

import numpy as np
import torch

from starpose import metrics
from starpose.data.flip import flip_pose
from starpose.datasets.mpi_inf_3dhp.joint_map import compared_joints, h36m_from_3dhp, mpi_from_h36m
from starpose.datasets.mpi_inf_3dhp.layout import (
    ACTIVITIES, MPI_3DHP_17, PCK_JOINT_GROUPS, PCK_THRESHOLD_MM, ROOT, SCENES, Sequence3DHP)
from starpose.data.skeleton import H36M_17
from starpose.data.windows import eval_windows, reassemble
from starpose.errors import CheckpointError, StarposeError

COLUMNS = ("pck", "auc", "mpjpe", "p_mpjpe")
TITLES = {"pck": "PCK (%)", "auc": "AUC (%)", "mpjpe": "MPJPE (mm)", "p_mpjpe": "P-MPJPE (mm)"}
LAYOUTS = {"3dhp": MPI_3DHP_17, "h36m": H36M_17}


def check_model_fits(model, source: str, path) -> None:
    """A 3DHP evaluation needs a 17-joint, 2-channel model of the 3DHP or Human3.6M layout."""
    cfg = model.config
    joints = MPI_3DHP_17.num_joints
    if cfg.num_joints != joints or cfg.in_chans != 2:
        raise CheckpointError(f"{path}: the model takes {cfg.num_joints} joints with "
                              f"{cfg.in_chans} channels; MPI-INF-3DHP needs {joints} joints with 2")
    if source not in LAYOUTS:
        raise CheckpointError(f"{path}: trained on '{source}', whose joints have no map to "
                              f"MPI-INF-3DHP (known: {', '.join(LAYOUTS)})")


def predict_3dhp(model, keypoints_2d: np.ndarray, source: str = "3dhp", flip: bool = True,
                 batch_size: int = 64, amp: str | None = None, *, predict) -> np.ndarray:
    """Root-relative 3D ``(T, 17, 3)`` in 3DHP order (root 0) from 3DHP 2D ``(T, 17, 2)``.

    ``predict(model, windows, flip=, batch_size=, amp=)`` lifts windows ``(N, F, J, 2)`` (the
    evaluation layer passes :func:`starpose.inference.predictors.predict_windows`).

    A Human3.6M model (``source="h36m"``) sees the keypoints in its own order and flips with its
    own left/right lists; its output is put back in 3DHP order.
    """
    skeleton = LAYOUTS[source]
    inputs = h36m_from_3dhp(keypoints_2d) if source == "h36m" else keypoints_2d
    inputs = _model_input(model, inputs)
    device = next(model.parameters()).device
    windows = torch.from_numpy(eval_windows(np.ascontiguousarray(inputs, np.float32),
                                            model.config.num_frames)).to(device)
    pred = predict(model, windows, flip=False, batch_size=batch_size, amp=amp)
    if flip:
        mirrored = predict(model, flip_pose(windows, skeleton), flip=False,
                                   batch_size=batch_size, amp=amp)
        pred = 0.5 * (pred + flip_pose(mirrored, skeleton))
    pred = reassemble(pred.cpu().numpy(), len(keypoints_2d))
    pred = mpi_from_h36m(pred) if source == "h36m" else pred
    pred[:, ROOT] = 0.0
    return pred


def scores(pred: np.ndarray, target: np.ndarray, joints) -> dict[str, float]:
    """PCK, AUC (%), MPJPE and P-MPJPE (mm) of poses ``(N, 17, 3)`` in millimetres; MPJPE and
    P-MPJPE over ``joints``, PCK and AUC over the 8 joint groups."""
    if not len(pred):
        return dict.fromkeys(COLUMNS) | {"frames": 0}
    part_p, part_t = pred[:, list(joints)], target[:, list(joints)]
    return {"pck": metrics.pck(pred, target, PCK_THRESHOLD_MM, joints=PCK_JOINT_GROUPS),
            "auc": metrics.auc(pred, target, joints=PCK_JOINT_GROUPS),
            "mpjpe": metrics.mpjpe(part_p, part_t), "p_mpjpe": metrics.p_mpjpe(part_p, part_t),
            "frames": int(len(pred))}


def _weighted(rows: list[dict]) -> dict:
    """The valid-frame-weighted mean of table rows (rows without frames carry no weight)."""
    frames = sum(r["frames"] for r in rows)
    if not frames:
        return dict.fromkeys(COLUMNS) | {"frames": 0}
    return {name: sum(r[name] * r["frames"] for r in rows if r["frames"]) / frames
            for name in COLUMNS} | {"frames": frames}


def report(model, sequences: list[Sequence3DHP], *, predict, source: str = "3dhp", flip: bool = True,
           batch_size: int = 64, amp: str | None = None) -> dict:
    """The full evaluation of ``model`` on the test ``sequences`` as a JSON-able dict:
    ``sequences`` (per TS), ``overall``, ``scenes``, ``activities`` (None without labels), each
    row ``{pck, auc, mpjpe, p_mpjpe, frames}``, plus the joints counted and left out."""
    if not sequences:
        raise StarposeError("no MPI-INF-3DHP test sequences to evaluate")
    joints = compared_joints(source)
    was_training = model.training
    model.eval()
    try:
        lifted = [predict_3dhp(model, s.keypoints_2d, source, flip, batch_size, amp, predict=predict)
                  for s in sequences]
    finally:
        model.train(was_training)
    preds = [1000.0 * p[s.valid] for p, s in zip(lifted, sequences)]
    targets = [1000.0 * s.positions_3d[s.valid].astype(np.float64) for s in sequences]
    rows = {s.subject: scores(p, t, joints) for s, p, t in zip(sequences, preds, targets)}
    names = MPI_3DHP_17.names
    result = {
        "dataset": "3dhp", "source_layout": source, "flip": flip,
        "joints_compared": [names[j] for j in joints],
        "joints_excluded": [names[j] for j in range(len(names)) if j not in joints],
        "pck_joints": [names[j] for group in PCK_JOINT_GROUPS.values() for j in group],
        "sequences": rows,
        "overall": scores(np.concatenate(preds), np.concatenate(targets), joints),
        "scenes": {scene: _weighted([rows[n] for n in members if n in rows])
                   for scene, members in SCENES.items() if any(n in rows for n in members)},
        "activities": _activity_rows(sequences, preds, targets, joints),
    }
    return result


def _activity_rows(sequences, preds, targets, joints) -> dict | None:
    if any(s.activity is None for s in sequences):
        return None
    labels = np.concatenate([s.activity[s.valid] for s in sequences])
    pred, target = np.concatenate(preds), np.concatenate(targets)
    return {name: scores(pred[labels == k], target[labels == k], joints)
            for k, name in enumerate(ACTIVITIES, start=1)}


def validation_metrics(model, sequences: list[Sequence3DHP], *, predict, batch_size: int = 64,
                       amp: str | None = None) -> dict[str, float]:
    """The per-epoch validation numbers of a 3DHP training run: the ``Overall`` row (MPJPE and
    P-MPJPE in mm, PCK and AUC in percent) on the valid frames of ``sequences``."""
    overall = report(model, sequences, predict=predict, batch_size=batch_size, amp=amp)["overall"]
    return {name: overall[name] for name in COLUMNS}


def _table(title: str, rows: dict) -> list[str]:
    lines = [f"| {title} | " + " | ".join(TITLES[c] for c in COLUMNS) + " | Frames |",
             "|---|" + "---:|" * (len(COLUMNS) + 1)]
    for name, row in rows.items():
        cells = ["-" if row[c] is None else f"{row[c]:.2f}" for c in COLUMNS]
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {row['frames']} |")
    return lines


def format_report(result: dict) -> str:
    """Markdown tables of a :func:`report`: sequences with Overall and scene rows, activities."""
    overall = {"**Overall**": result["overall"]}
    scenes = {f"*{name}*": row for name, row in result["scenes"].items()}
    lines = ["### MPI-INF-3DHP test set (valid frames)", ""]
    lines += _table("Sequence", result["sequences"] | overall | scenes)
    if result["activities"] is None:
        lines += ["", "No activity labels in the test file: no activity table."]
    else:
        lines += ["", "### By activity", ""] + _table("Activity", result["activities"])
    lines += ["", f"PCK < {PCK_THRESHOLD_MM:g} mm and AUC (0-150 mm) over "
              f"{len(result['pck_joints'])} joints; MPJPE and P-MPJPE over "
              f"{len(result['joints_compared'])} joints."]
    if result["joints_excluded"]:
        lines.append(f"Model trained on {result['source_layout']}: excluded from the metrics "
                     f"(no counterpart): {', '.join(result['joints_excluded'])}.")
    return "\n".join(lines)


def _model_input(model, screen: np.ndarray) -> np.ndarray:
    """The screen-normalised keypoints ``(T, J, 2)`` as ``model`` takes them (box input is the
    same computed from screen coordinates as from pixels)."""
    from starpose.data.model_input import RAY_NORMS, box_input, input_norm_of
    from starpose.errors import StarposeError

    norm = input_norm_of(model)
    if norm in RAY_NORMS:
        raise StarposeError("a model of camera-ray input cannot be evaluated on MPI-INF-3DHP here")
    return box_input(screen) if norm == "box" else screen

