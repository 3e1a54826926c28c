"""A ``starpose lift`` result to a BVH animation (``starpose mocap export``).

The positions written are the result's ``joints_world`` when it has them (the trajectory
over a floor at y = 0, see :mod:`starpose.world`), else ``positions_3d`` (root-relative
camera coordinates; the figure walks on the spot with its lowest foot on y = 0).

Time: the frame rate is the result's (or the one given); a result without one is refused
rather than given a made-up rate. With ``timeline="video"`` BVH frame n is frame n of the input
(the result's ``frame_index``): a clip that starts at frame 100 gets 100 leading frames that
hold its first pose, so the animation lines up with the video in any tool; ``"clip"`` starts
the BVH at the first lifted frame. Gaps in ``frame_index`` (frames the input lacked) are filled
by linear interpolation of the joints, so the BVH's frames stay evenly spaced in time.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from starpose.data.skeleton import H36M_17
from starpose.errors import DataError
from starpose.lift.results import read_result
from starpose.mocap.export import write_bvh
from starpose.mocap.timeline import uniform_timeline

TIMELINES = ("video", "clip")
@dataclass(frozen=True)
class BvhExport:
    """What :func:`export_result` wrote: the file, its frame count, the input frame its first
    frame shows, the frame rate, the lifted frames and whether the root moves (a trajectory)."""

    path: Path
    frames: int
    first_frame: int
    fps: float
    lifted_frames: int
    trajectory: bool


def _check_joints(result: dict, path: Path) -> None:
    joints = result["positions_3d"].shape[1]
    if joints != 17:
        raise DataError(f"{path}: {joints} joints per frame (a HumanEva-I result?); BVH export "
                        "needs the 17 Human3.6M joints")
    names = result.get("joint_names")
    if names is not None and tuple(names) != H36M_17.names:
        raise DataError(f"{path}: the joints are not Human3.6M's 17 in order "
                        f"(joint_names starts {', '.join(names[:3])}); BVH export needs them")


def export_result(result_path, out, *, fps: float | None = None, unit: str = "m",
                  naming: str = "starpose", timeline: str = "video",
                  trajectory: bool = True) -> BvhExport:
    """Convert a ``starpose lift`` result (``.npz`` or ``.json``) to a BVH file at ``out``
    (see the module docstring). ``trajectory=False`` writes ``positions_3d`` even where the
    result has ``joints_world``."""
    if timeline not in TIMELINES:
        raise ValueError(f"timeline must be one of {', '.join(TIMELINES)}, got {timeline!r}")
    result_path, out = Path(result_path), Path(out)
    result = read_result(result_path)
    _check_joints(result, result_path)
    rate = fps or result.get("fps")
    if not rate:
        raise DataError(f"{result_path}: the result has no frame rate; give one (fps)")
    world = result.get("joints_world") if trajectory else None
    positions = world if world is not None else result["positions_3d"]
    try:
        positions, first = uniform_timeline(positions, result.get("frame_index"), timeline)
    except DataError as err:
        raise DataError(f"{result_path}: {err}") from None
    write_bvh(out, positions, rate, unit=unit, naming=naming,
              camera_coordinates=world is None)
    return BvhExport(out, len(positions), first, float(rate), len(result["positions_3d"]),
                     world is not None)
