"""The world motion of a lifted sequence, added to its result (what ``starpose lift`` stores).

:class:`WorldOptions` holds every choice, with its default stated once. :func:`add_world`
takes the lifted root-relative poses and the result's metadata (2D keypoints, confidences,
image size, frame rate) and returns the fields of :func:`starpose.world.world_motion`
(``joints_cam``, ``root_cam``, ``joints_world``, ``contacts``, ``intrinsics``, ...) plus
``root_method``: ``"model"`` when the trajectory model placed the root (the bundled one,
``starpose/weights/trajectory.npz``, or another given by path), ``"geometric"`` otherwise.

Only the Human3.6M 17-joint skeleton has world motion (the floor and the contacts need its
feet); results of other skeletons keep ``positions_3d`` alone.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from starpose.errors import OptionError, StarposeError, StarposeWarning
from starpose.world import intrinsics_for, world_motion
from starpose.world.body import TYPICAL_STATURE_M
from starpose.world.intrinsics import check_camera_values, to_rays

#: The frame rate contacts are detected at when the input does not state one.
ASSUMED_FPS = 30.0


@dataclass(frozen=True)
class WorldOptions:
    """``enabled``: compute world motion at all; ``focal_px`` / ``fov_deg``: the camera (default
    the typical field of view, :data:`starpose.world.TYPICAL_FOV_DEG`); ``trajectory``:
    ``"auto"`` (the bundled trajectory model when installed, else geometric), ``"geometric"``,
    or the path of trajectory weights (``.npz``); ``lock_feet``: remove foot sliding;
    ``stature_m``: the person's height where it is known; then it sets the body's size and the
    root is placed geometrically (a trajectory model's estimate of the size is not needed).
    Otherwise the trajectory model's estimate, else :data:`starpose.world.body.TYPICAL_STATURE_M`."""

    enabled: bool = True
    focal_px: float | None = None
    fov_deg: float | None = None
    trajectory: str = "auto"
    lock_feet: bool = True
    stature_m: float | None = None

    def check(self) -> None:
        """StarposeError (one line) for a camera value or a stature out of range."""
        check_camera_values(self.focal_px, self.fov_deg)
        if self.stature_m is not None and not 0.5 <= self.stature_m <= 2.5:
            raise StarposeError(f"a stature of {self.stature_m:g} m is not a person's "
                                "(expected 0.5 to 2.5 m)")


def trajectory_model(choice: str):
    """The trajectory network for ``choice`` (see :class:`WorldOptions`), or None."""
    from starpose.models.trajectory_weights import bundled_trajectory_model, load_trajectory_model

    if choice == "geometric":
        return None
    if choice == "auto":
        return bundled_trajectory_model()
    return load_trajectory_model(choice)


def add_world(poses: np.ndarray, meta: dict, options: WorldOptions = WorldOptions(),
              model=None) -> dict:
    """World-motion fields for ``poses`` ``(T, 17, 3)`` and ``meta``
    (:func:`starpose.lift.lifting.result_meta`); ``model``: a trajectory network or None."""
    intrinsics = intrinsics_for(meta["image_size"], options.focal_px, options.fov_deg)
    fps = meta.get("fps")
    if not fps:
        warnings.warn(f"{meta.get('source') or meta.get('name')}: the frame rate is unknown; "
                      f"foot contacts assume {ASSUMED_FPS:g} fps", StarposeWarning, stacklevel=2)
        fps = ASSUMED_FPS
    root_cam = None
    if options.stature_m is not None:
        model = None  # the size is known: the geometric fit places the root
    if model is not None:
        from starpose.models.trajectory import predict_root

        root_cam = predict_root(model, to_rays(np.asarray(meta["keypoints_2d"], np.float64),
                                               intrinsics))
    fields = world_motion(poses, meta["keypoints_2d"], intrinsics, float(fps), model_root=root_cam,
                          weights=meta.get("confidence"), lock_feet=options.lock_feet,
                          stature_m=options.stature_m or TYPICAL_STATURE_M)
    return {**fields, "root_method": "model" if model is not None else "geometric"}


def check_world_options(opts) -> None:
    """One line (OptionError) for a camera or stature value of :class:`~starpose.lift.options.LiftOptions`
    out of range, before any work."""
    if opts.fov is not None and not 0 < opts.fov < 180:
        raise OptionError(f"<fov> {opts.fov:g}: the field of view must be between 0 and 180 "
                          "degrees (exclusive)")
    if opts.focal_px is not None and not opts.focal_px > 0:
        raise OptionError(f"<focal-px> {opts.focal_px:g}: the focal length must be a positive "
                          "number of pixels")
    if opts.focal_px is not None and opts.fov is not None:
        raise OptionError("give <focal-px> or <fov>, not both")
    if opts.stature is not None and not 0.5 <= opts.stature <= 2.5:
        raise OptionError(f"<stature> {opts.stature:g}: expected a person's height in metres "
                          "(0.5 to 2.5)")


def world_setup(opts, skeleton_is_h36m: bool):
    """``(WorldOptions, trajectory model or None)`` for the lift options, or None where no world
    motion is computed (``no_world``, or a skeleton other than Human3.6M's 17 joints)."""
    if opts.no_world or not skeleton_is_h36m:
        return None
    stature = {} if opts.stature is None else {"stature_m": opts.stature}
    options = WorldOptions(focal_px=opts.focal_px, fov_deg=opts.fov, trajectory=opts.trajectory,
                           lock_feet=not opts.no_foot_lock, **stature)
    options.check()
    return options, trajectory_model(options.trajectory)


def world_note(meta: dict) -> str:
    """``"; root by ..., stature ..., focal ... px, foot sliding a -> b mm/frame"``, or "" for a
    result without world motion."""
    if meta.get("joints_world") is None:
        return ""
    before, after = (1000 * v for v in meta["foot_sliding_m"])
    sliding = "no foot contacts" if before != before else \
        f"foot sliding {before:.1f} -> {after:.1f} mm/frame in contact"
    return (f"; root by the {meta['root_method']} estimate, stature {meta['stature_m']:.2f} m, "
            f"focal {meta['intrinsics'][0]:.0f} px, {sliding}")
