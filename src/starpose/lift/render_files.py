"""``starpose render``'s work: a result file as an animation, a trajectory plot and a per-joint
error plot against a ground truth, written together (:func:`render_files`)."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from starpose.errors import OptionError
from starpose.io import atomic_files, check_output_path
from starpose.lift.dataset import result_dataset
from starpose.lift.render import ANIMATION_SUFFIXES, plot_world_result, render_result
from starpose.lift.results import read_ground_truth, read_result


@dataclass
class RenderOptions:
    """``input``: a lift result; ``out`` an ``.mp4``/``.gif``; ``plot``/``error_plot`` PNGs;
    ``ground_truth`` a ``(T, J, 3)`` file; the rest as ``starpose render --help`` says."""

    input: str
    out: str | None = None
    plot: str | None = None
    error_plot: str | None = None
    world_plot: str | None = None
    ground_truth: str | None = None
    fps: float | None = None
    azimuth: float = 70.0
    limit: float | None = None
    downsample: int = 1
    size: float = 3.0
    dataset: str | None = None


def render_files(opts: RenderOptions) -> int | None:
    """Write what ``opts`` asks for (all or nothing); returns the animation's frame count."""
    from starpose.viz.plots import plot_per_joint_error, plot_trajectories

    if opts.out is None and opts.plot is None and opts.error_plot is None and opts.world_plot is None:
        raise OptionError("nothing to do: give <out> OUT.mp4|OUT.gif, <plot> OUT.png, "
                          "<world-plot> OUT.png and/or <error-plot> OUT.png")
    if opts.out is not None and Path(opts.out).suffix.lower() not in ANIMATION_SUFFIXES:
        raise OptionError(f"{opts.out}: <out> must end in .mp4 or .gif")
    for flag, value in (("<plot>", opts.plot), ("<error-plot>", opts.error_plot),
                        ("<world-plot>", opts.world_plot)):
        if value is not None and Path(value).suffix.lower() != ".png":
            raise OptionError(f"{value}: {flag} must end in .png")
    if opts.error_plot is not None and not opts.ground_truth:
        raise OptionError("<error-plot> needs <ground-truth>")
    reads = tuple(p for p in (opts.input, opts.ground_truth) if p)
    for value in (opts.out, opts.plot, opts.error_plot, opts.world_plot):
        if value is not None:
            check_output_path(value, inputs=reads)
    result = read_result(opts.input)
    if opts.world_plot is not None and result.get("joints_world") is None:
        raise OptionError(f"{opts.input}: no world motion (joints_world) to draw for "
                          "<world-plot>; lift without <no-world>")
    skeleton = (dataset := result_dataset(result, opts.dataset, opts.input)).skeleton
    truth = None
    if opts.ground_truth:
        truth = read_ground_truth(opts.ground_truth, len(result["positions_3d"]),
                                  dataset.num_joints, dataset.root)
    with atomic_files() as stage:
        if opts.out is not None:
            frames = render_result(result, stage(Path(opts.out)), ground_truth=truth, fps=opts.fps,
                                   azimuth=opts.azimuth, limit=opts.limit,
                                   downsample=opts.downsample, size=opts.size, skeleton=skeleton)
        if opts.plot is not None:
            series = {"lifted": result["positions_3d"]}
            if truth is not None:
                series["ground truth"] = truth
            plot_trajectories(series, stage(Path(opts.plot)), fps=opts.fps or result["fps"],
                              skeleton=skeleton, root=dataset.root, frame_index=result["frame_index"],
                              time_s=None if opts.fps else result["time_s"])
        if opts.world_plot is not None:
            plot_world_result(result, stage(Path(opts.world_plot)), skeleton=skeleton,
                              title=Path(opts.input).name)
        if opts.error_plot is not None:
            errors_mm = 1000 * np.linalg.norm(result["positions_3d"] - truth, axis=-1).mean(axis=0)
            plot_per_joint_error({"lifted": errors_mm}, stage(Path(opts.error_plot)), names=skeleton.names,
                                 title=f"Per-joint error vs {Path(opts.ground_truth).name}")
    return frames if opts.out is not None else None
