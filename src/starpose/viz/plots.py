"""Static plots: training curves, per-joint errors, joint trajectories.

Figures are drawn on matplotlib's Agg canvas directly (no pyplot), so nothing ever opens a
window and the process-wide backend is left alone. PNGs are written atomically.
"""
from __future__ import annotations

import csv
import math
import os
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from starpose.data.skeleton import H36M_17, Skeleton
from starpose.errors import StarposeError
from starpose.io import atomic_path

__all__ = ["plot_training_curves", "read_training_curves", "plot_per_joint_error", "plot_trajectories"]

# Column aliases accepted in training logs, first match wins. The trainer's metrics.csv names
# the loss ``train_total`` (the total of the MixSTE loss terms, beside ``train_wmpjpe``...).
_CURVE_KEYS = {
    "epoch": ("epoch",),
    "train_loss": ("train_total", "train_loss", "loss"),
    "val_loss": ("val_loss",),
    "val_mpjpe": ("val_mpjpe", "val_mpjpe_mm", "mpjpe"),
    "val_p_mpjpe": ("val_p_mpjpe", "val_p_mpjpe_mm", "p_mpjpe"),
    "lr": ("lr", "learning_rate"),
}


def atomic_output(out_path: str | os.PathLike):
    """A temporary path beside ``out_path`` (parents created, extension kept, so that writers
    that pick a format from it still work), moved into place only if the body succeeds."""
    return atomic_path(out_path, suffix=None, make_parents=True)


def new_figure(width_in: float, height_in: float, dpi: int = 100) -> Figure:
    """A figure bound to an Agg canvas (never a GUI backend)."""
    fig = Figure(figsize=(width_in, height_in), dpi=dpi)
    FigureCanvasAgg(fig)
    return fig


def save_png(fig: Figure, out_png: str | os.PathLike) -> Path:
    """Write ``fig`` as PNG atomically and return the path."""
    with atomic_output(out_png) as tmp:
        fig.savefig(tmp, format="png")
    return Path(out_png)


# --------------------------------------------------------------------------- training curves


def _read_rows(csv_or_rows) -> list[Mapping]:
    if isinstance(csv_or_rows, (str, os.PathLike)):
        path = Path(csv_or_rows)
        if not path.is_file():
            raise StarposeError(f"training log not found: {path}")
        with path.open(newline="") as f:
            return list(csv.DictReader(f))
    return list(csv_or_rows)


def _column(rows: Sequence[Mapping], keys: Sequence[str]) -> np.ndarray | None:
    """The first of ``keys`` present in the rows as floats (missing or blank cells -> NaN)."""
    for key in keys:
        if any(key in row for row in rows):
            return np.array([_to_float(row.get(key)) for row in rows])
    return None


def _to_float(value) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def read_training_curves(csv_or_rows) -> dict[str, np.ndarray | None]:
    """The per-epoch curves of a training log: ``epoch, train_loss, val_loss, val_mpjpe,
    val_p_mpjpe, lr``, each ``(E,)`` floats (blank cells NaN) or None when the log lacks it.

    csv_or_rows: a CSV path (such as a run's ``metrics.csv``) or a list of dicts. Column names
    are matched through aliases (``train_loss`` is read from ``train_total``, the trainer's name,
    or ``train_loss`` or ``loss``); without an epoch column the epochs are 1, 2, ...
    """
    rows = _read_rows(csv_or_rows)
    if not rows:
        raise StarposeError("plot_training_curves: the training log has no rows")
    curves = {name: _column(rows, keys) for name, keys in _CURVE_KEYS.items()}
    if curves["epoch"] is None:
        curves["epoch"] = np.arange(1, len(rows) + 1, dtype=float)
    if curves["train_loss"] is None and curves["val_mpjpe"] is None:
        raise StarposeError(
            f"plot_training_curves: no training loss or 'val_mpjpe' column; found {sorted(rows[0])}"
        )
    return curves


def plot_training_curves(csv_or_rows, out_png: str | os.PathLike, title: str | None = None) -> Path:
    """Two panels per epoch: training loss (with the learning rate) and validation MPJPE.

    csv_or_rows: a CSV path or a list of dicts, read by :func:`read_training_curves` (a run's
    ``metrics.csv`` as the trainer writes it, or keys such as ``epoch, train_loss, val_mpjpe,
    lr``). MPJPE values are plotted as given (the log is expected to hold millimetres). Returns
    the PNG path.
    """
    c = read_training_curves(csv_or_rows)
    fig = new_figure(10, 4)
    ax_loss, ax_err = fig.subplots(1, 2)
    _plot_loss_panel(ax_loss, c["epoch"], c["train_loss"], c["val_loss"], c["lr"])
    _plot_error_panel(ax_err, c["epoch"], c["val_mpjpe"], c["val_p_mpjpe"])
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return save_png(fig, out_png)


def _plot_loss_panel(ax, epochs, train_loss, val_loss, lr) -> None:
    if train_loss is not None:
        ax.plot(epochs, train_loss, "o-", ms=3, label="train loss")
    if val_loss is not None:
        ax.plot(epochs, val_loss, "s-", ms=3, label="validation loss")
    ax.set(title="Loss", xlabel="epoch", ylabel="loss")
    ax.grid(alpha=0.3)
    handles, labels = ax.get_legend_handles_labels()
    if lr is not None and np.isfinite(lr).any():
        # The learning rate spans decades: its own log axis keeps the loss axis readable.
        ax_lr = ax.twinx()
        (line,) = ax_lr.plot(epochs, lr, "--", color="tab:gray", label="learning rate")
        if (lr[np.isfinite(lr)] > 0).all():
            ax_lr.set_yscale("log")
        ax_lr.set_ylabel("learning rate")
        handles, labels = handles + [line], labels + ["learning rate"]
    if handles:
        ax.legend(handles, labels, loc="upper right", fontsize=8)


def _plot_error_panel(ax, epochs, val_mpjpe, val_p_mpjpe) -> None:
    if val_mpjpe is not None:
        ax.plot(epochs, val_mpjpe, "o-", ms=3, color="tab:red", label="MPJPE")
        finite = np.isfinite(val_mpjpe)
        if finite.any():
            best = int(np.nanargmin(val_mpjpe))
            ax.annotate(f"best {val_mpjpe[best]:.1f}", (epochs[best], val_mpjpe[best]),
                        textcoords="offset points", xytext=(0, 8), ha="center", fontsize=8)
    if val_p_mpjpe is not None:
        ax.plot(epochs, val_p_mpjpe, "s-", ms=3, color="tab:green", label="P-MPJPE")
    ax.set(title="Validation error", xlabel="epoch", ylabel="error (mm)")
    ax.grid(alpha=0.3)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=8)


# --------------------------------------------------------------------------- per-joint errors


def plot_per_joint_error(
    errors_mm,
    out_png: str | os.PathLike,
    names: Sequence[str] = H36M_17.names,
    compare=None,
    labels: tuple[str, str] = ("model", "baseline"),
    title: str = "Per-joint error",
) -> Path:
    """Bar chart of the error of each joint, optionally beside a second series.

    errors_mm: ``(J,)`` errors in millimetres, or a dict ``{label: (J,)}`` of several series;
    compare: an optional second ``(J,)`` series (e.g. vanilla vs star attention), named by
    ``labels``. The legend gives each series' mean. Returns the PNG path.
    """
    series = _error_series(errors_mm, compare, labels)
    num_joints = len(next(iter(series.values())))
    names = list(names) if len(names) == num_joints else [str(j) for j in range(num_joints)]

    fig = new_figure(max(6.0, 0.45 * num_joints * max(1, len(series))), 4)
    ax = fig.add_subplot()
    width = 0.8 / len(series)
    x = np.arange(num_joints)
    for k, (label, values) in enumerate(series.items()):
        ax.bar(x + (k - (len(series) - 1) / 2) * width, values, width,
               label=f"{label} (mean {np.mean(values):.1f} mm)")
    ax.set_xticks(x, names, rotation=45, ha="right")
    ax.set(title=title, ylabel="error (mm)")
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return save_png(fig, out_png)


def _error_series(errors_mm, compare, labels) -> dict[str, np.ndarray]:
    if isinstance(errors_mm, Mapping):
        series = {str(k): np.asarray(v, dtype=float) for k, v in errors_mm.items()}
    else:
        series = {labels[0]: np.asarray(errors_mm, dtype=float)}
        if compare is not None:
            series[labels[1]] = np.asarray(compare, dtype=float)
    shapes = {v.shape for v in series.values()}
    if not series or len(shapes) != 1 or len(next(iter(shapes))) != 1:
        raise StarposeError(f"plot_per_joint_error: expected (J,) series of equal length, got {shapes}")
    return series


# --------------------------------------------------------------------------- trajectories

#: The wrists and ankles under the names of each dataset's skeleton (Human3.6M, HumanEva-I, 3DHP).
_DEFAULT_TRAJECTORY_JOINTS = ("LWrist", "RWrist", "LFoot", "RFoot", "lwrist", "rwrist", "lankle", "rankle",
                              "left_wrist", "right_wrist", "left_ankle", "right_ankle")
_AXIS_NAMES = ("x", "y", "z")


def plot_trajectories(
    poses,
    out_png: str | os.PathLike,
    joints: Sequence[int | str] | None = None,
    skeleton: Skeleton = H36M_17,
    root: int | None = 0,
    fps: float | None = None,
    title: str = "Root-relative joint trajectories",
    frame_index=None,
    time_s=None,
) -> Path:
    """Plot x, y, z of a few joints over time (one panel per axis); jitter shows as wiggles.

    poses: ``(T, J, 3)``, or a dict ``{label: (T, J, 3)}`` to overlay e.g. prediction and ground
    truth (solid, dashed, ... lines). joints: indices or names (default wrists and ankles);
    root: joint subtracted from all (None keeps absolute coordinates); fps: label time in seconds.
    frame_index, time_s: ``(T,)`` the input's frame numbers and times: the axis shows the input's
    time (``time_s`` where every time is known, else ``frame_index / fps``), not time from 0.
    """
    series = poses if isinstance(poses, Mapping) else {"": poses}
    series = {k: _check_sequence(v, skeleton) for k, v in series.items()}
    picked = _resolve_joints(joints, skeleton)

    fig = new_figure(10, 7)
    axes = fig.subplots(3, 1, sharex=True)
    colors = [f"C{i}" for i in range(10)]
    styles = ["-", "--", ":", "-."]
    for s, (label, seq) in enumerate(series.items()):
        rel = seq - seq[:, root : root + 1] if root is not None else seq
        t = time_axis(len(seq), fps, frame_index, time_s)
        for c, j in enumerate(picked):
            name = skeleton.names[j] if j < len(skeleton.names) else str(j)
            for a, ax in enumerate(axes):
                ax.plot(t, rel[:, j, a], styles[s % len(styles)], color=colors[c % len(colors)], lw=1.2,
                        label=f"{name} {label}".strip() if a == 0 else None)
    for a, ax in enumerate(axes):
        ax.set_ylabel(_AXIS_NAMES[a])
        ax.grid(alpha=0.3)
    in_seconds = fps or (time_s is not None and np.isfinite(np.asarray(time_s, dtype=float)).all())
    axes[-1].set_xlabel("time (s)" if in_seconds else "frame")
    fig.suptitle(title)
    # Outside the panels, on the right: inside it would hide the curves it explains.
    fig.legend(*axes[0].get_legend_handles_labels(), loc="center right", fontsize=8)
    fig.tight_layout(rect=(0, 0, 0.8, 1))
    return save_png(fig, out_png)


def time_axis(frames: int, fps: float | None, frame_index=None, time_s=None) -> np.ndarray:
    """``(T,)`` x values: ``time_s`` when all known, else frame numbers (``frame_index`` or 0..T-1),
    divided by ``fps`` when given."""
    if time_s is not None and np.isfinite(np.asarray(time_s, dtype=float)).all():
        return np.asarray(time_s, dtype=float)
    numbers = np.arange(frames) if frame_index is None else np.asarray(frame_index, dtype=float)
    return numbers / fps if fps else numbers


def _check_sequence(seq, skeleton: Skeleton) -> np.ndarray:
    arr = np.asarray(seq, dtype=float)
    if arr.ndim != 3 or arr.shape[2] != 3 or arr.shape[1] != skeleton.num_joints:
        raise StarposeError(
            f"expected poses of shape (T, {skeleton.num_joints}, 3), got {arr.shape}"
        )
    return arr


def _resolve_joints(joints, skeleton: Skeleton) -> list[int]:
    if joints is None:
        joints = [n for n in _DEFAULT_TRAJECTORY_JOINTS if n in skeleton.names] or [skeleton.num_joints - 1]
    picked = []
    for j in joints:
        if isinstance(j, str):
            if j not in skeleton.names:
                raise StarposeError(f"unknown joint name {j!r}; known: {', '.join(skeleton.names)}")
            j = skeleton.names.index(j)
        if not 0 <= int(j) < skeleton.num_joints:
            raise StarposeError(f"joint index {j} out of range for {skeleton.num_joints} joints")
        picked.append(int(j))
    return picked
