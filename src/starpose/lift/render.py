"""Rendering glue: a lifted result (and optionally a ground truth) as an animation.

Draws the stored 2D input beside the lifted 3D skeleton with :mod:`starpose.viz.animation`
(imported when called, so that reading and writing results never loads matplotlib).
"""
from __future__ import annotations

ANIMATION_SUFFIXES = (".mp4", ".gif")
DEFAULT_RENDER_FPS = 25.0


def render_result(result: dict, out_path, *, ground_truth=None, fps=None, azimuth=70.0,
                  limit=None, downsample=1, size=3.0, skeleton=None) -> int:
    """Render a result (2D panel when stored, lifted 3D, optional ground truth ``(T, J, 3)``,
    and the world motion on its floor when the result has ``joints_world``) with the bones and
    left/right colours of ``skeleton`` (default: Human3.6M's 17 joints).

    Returns the number of frames written.
    """
    from starpose.viz.animation import render_animation

    drawn = {} if skeleton is None else {"skeleton": skeleton}

    poses = {"Lifted 3D": result["positions_3d"]}
    if ground_truth is not None:
        poses["Ground truth"] = ground_truth
    if result.get("joints_world") is not None:
        drawn["world"] = (result["joints_world"], result.get("contacts"))
    return render_animation(
        result.get("keypoints_2d"),
        poses,
        out_path,
        fps=fps or result.get("fps") or DEFAULT_RENDER_FPS,
        azimuth=azimuth,
        size=size,
        limit=limit,
        downsample=downsample,
        image_size=result.get("image_size"),
        root_relative=True,
        frame_numbers=result.get("frame_index"),
        times=result.get("time_s"),
        **drawn,
    )



def plot_world_result(result: dict, out_path, *, skeleton=None, every: int | None = None,
                      title: str = "") -> None:
    """A still picture of a result's world motion (``joints_world``): floor, root path, foot
    contacts and a pose every ``every`` frames (default: about 8 poses)."""
    from starpose.data.skeleton import H36M_17
    from starpose.errors import DataError
    from starpose.viz.world_view import plot_world

    if result.get("joints_world") is None:
        raise DataError("the result has no world motion (joints_world); lift it with world "
                        "motion on")
    skeleton = skeleton or H36M_17
    left, right = set(skeleton.joints_left), set(skeleton.joints_right)
    colors = ["tab:blue" if c in left else "tab:red" if c in right else "0.25"
              for _, c in skeleton.bones]
    frames = len(result["joints_world"])
    plot_world(result["joints_world"], result.get("contacts"), out_path, bones=skeleton.bones,
               colors=colors, every=every or max(frames // 8, 1), title=title)
