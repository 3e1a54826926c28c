"""The world-motion options of ``starpose lift`` (:class:`starpose.lift.world.WorldOptions`)."""
from __future__ import annotations

from starpose.errors import StarposeError


def add_world_arguments(parser) -> None:
    world = parser.add_argument_group("world motion (17-joint models; docs/lift.md)")
    camera = world.add_mutually_exclusive_group()
    camera.add_argument("--focal-px", type=float, metavar="F",
                        help="the camera's focal length in pixels")
    camera.add_argument("--fov", type=float, metavar="DEG", help="the camera's field of view "
                        "on the image's long side, degrees (default: 70, a phone's)")
    world.add_argument("--trajectory", default="auto", metavar="auto|geometric|FILE.npz",
                       help="how the root is placed: the bundled trajectory model (auto), the "
                       "geometric estimate, or trajectory weights")
    world.add_argument("--stature", type=float, default=None, metavar="M",
                       help="the person's height in metres, where known (default: the trajectory "
                       "model's estimate, else 1.70): sets the body's size and so its distance")
    world.add_argument("--no-foot-lock", action="store_true",
                       help="keep the foot sliding (no contact correction)")
    world.add_argument("--no-world", action="store_true",
                       help="root-relative positions_3d only (no trajectory, floor, contacts)")


def check_camera_flags(args) -> None:
    """One line for a field of view or focal length out of range (before any work)."""
    if args.fov is not None and not 0 < args.fov < 180:
        raise StarposeError(f"--fov {args.fov:g}: the field of view must be between 0 and 180 "
                            "degrees (exclusive)")
    if args.stature is not None and not 0.5 <= args.stature <= 2.5:
        raise StarposeError(f"--stature {args.stature:g}: expected a person's height in metres "
                            "(0.5 to 2.5)")
    if args.focal_px is not None and not args.focal_px > 0:
        raise StarposeError(f"--focal-px {args.focal_px:g}: the focal length must be a positive "
                            "number of pixels")


def world_options(args, skeleton_is_h36m: bool):
    """The :class:`~starpose.lift.world.WorldOptions` of the parsed flags."""
    from starpose.lift.world import WorldOptions

    stature = {} if args.stature is None else {"stature_m": args.stature}
    return WorldOptions(enabled=not args.no_world and skeleton_is_h36m, focal_px=args.focal_px,
                        fov_deg=args.fov, trajectory=args.trajectory,
                        lock_feet=not args.no_foot_lock, **stature)


def world_note(meta: dict) -> str:
    """``", root by ..., focal ... px, foot sliding a -> b mm/frame"`` or "" without world motion."""
    if meta.get("joints_world") is None:
        return ""
    before, after = (1000 * v for v in meta["foot_sliding_m"])
    sliding = "no foot contacts" if before != before else \
        f"foot sliding {before:.1f} -> {after:.1f} mm/frame in contact"
    return (f"; root by the {meta['root_method']} estimate, stature {meta['stature_m']:.2f} m, "
            f"focal {meta['intrinsics'][0]:.0f} px, {sliding}")
