"""`starpose mocap import` (BVH clips to a Human3.6M-format training set) and
`starpose mocap export` (a lifted result to a BVH animation)."""
from __future__ import annotations

import argparse
from pathlib import Path

from starpose.commands.common import add_command_parser, comma_list, non_negative_int, positive_float


def _camera_set(text: str) -> str:
    from starpose.mocap.rig import parse_camera_set

    try:
        parse_camera_set(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None
    return text


def add_parser(subparsers) -> None:
    parser = add_command_parser(
        subparsers, "mocap", examples=(
            "starpose mocap import cmu/*.bvh --out data/cmu --unit cmu",
            "starpose mocap import clips/*.bvh --out data/ring --cameras ring:8 --subjects S1,S5,S9",
            "starpose mocap export walk3d.npz --out walk.bvh",
        ),
        help="motion capture: import BVH clips as training data, export results as BVH",
        description="Import BVH motion capture as Human3.6M-format data, or export a lifted "
        "result as a BVH animation (Blender, MotionBuilder, ...).")
    sub = parser.add_subparsers(dest="mocap_command", metavar="SUBCOMMAND", required=True)
    imp = sub.add_parser(
        "import", help="BVH clips -> data_3d_h36m.npz, data_2d_h36m_gt.npz, data_2d_h36m_noisy.npz",
        description="Retarget BVH clips to the Human3.6M skeleton, project them through cameras "
        "and write a dataset that `starpose train` and `starpose evaluate` read.")
    imp.add_argument("clips", nargs="+", type=Path, metavar="CLIP.bvh")
    imp.add_argument("--out", required=True, type=Path, help="output folder")
    imp.add_argument("--skeleton", default="auto",
                     help="'auto' (detect the naming family) or a JSON mapping file")
    group = imp.add_mutually_exclusive_group()
    group.add_argument("--subjects", type=comma_list, help="comma-separated subjects the files "
                       "are dealt to (default S1,S5,S6,S7,S8,S9,S11)")
    group.add_argument("--split", type=Path, help="JSON file {file: subject}")
    imp.add_argument("--fps", type=positive_float, default=50.0, help="output frame rate")
    imp.add_argument("--cameras", type=_camera_set, default="h36m",
                     help="'h36m' (the 4 real cameras) or 'ring:N' virtual cameras")
    imp.add_argument("--seed", type=non_negative_int, default=0, help="seed of the noise and ring cameras")
    imp.add_argument("--unit", choices=("auto", "m", "cm", "mm", "inch", "cmu"), default="auto",
                     help="file units (default: detected from the skeleton's height)")
    imp.add_argument("--up", choices=("y", "z"), default="y", help="the file's up axis")
    imp.add_argument("--action-from", default="auto", metavar="auto|stem|MAP.json",
                     help="how takes get their action (evaluation groups by it): auto: the first "
                     "word of letters in the file name after the words all file names share "
                     "(dataset-1_walk_normal_001.bvh -> walk); stem: the file name's first word; "
                     "or a JSON file {file: action} (default: %(default)s)")
    imp.set_defaults(func=run_import)
    exp = sub.add_parser("export", help="a lifted result (.npz/.json) -> BVH",
                         description="Write the 3D joints of a `starpose lift` result as a "
                         "17-joint BVH animation (y up, metres).")
    exp.add_argument("result", type=Path, metavar="RESULT")
    exp.add_argument("--out", required=True, type=Path, help="the .bvh file to write")
    exp.add_argument("--fps", type=positive_float,
                     help="frame rate (default: the result's)")
    exp.add_argument("--unit", choices=("m", "cm"), default="m", help="BVH units")
    exp.add_argument("--names", choices=("starpose", "mixamo"), default="starpose",
                     help="bone names: starpose's joints or Mixamo's rig (docs/mocap.md)")
    exp.add_argument("--timeline", choices=("video", "clip"), default="video",
                     help="'video': BVH frame n is input frame n (leading frames hold the first "
                     "pose); 'clip': start at the first lifted frame")
    exp.add_argument("--no-trajectory", action="store_true",
                     help="write the root-relative positions_3d even where the result has "
                     "joints_world (walk on the spot)")
    exp.set_defaults(func=run_export)


def run_import(args: argparse.Namespace) -> int:
    from starpose.mocap.dataset import import_clips

    subjects = args.subjects or None
    takes = import_clips(args.clips, args.out, skeleton=args.skeleton, subjects=subjects,
                         split=args.split, fps=args.fps, cameras=args.cameras, seed=args.seed,
                         unit=args.unit, up=args.up, action_from=args.action_from)
    for take in takes:
        print(f"{take.path}: {take.family} names, unit {take.unit}, stature "
              f"{take.stature_m:.2f} m, {take.frames_in} frames at {take.fps_in:g} fps -> "
              f"{len(take.world)} at {take.fps:g} fps, {take.subject} '{take.action}'")
    counts: dict[str, int] = {}
    for take in takes:
        counts[take.action_group] = counts.get(take.action_group, 0) + 1
    found = [f"{name} ({n} {'take' if n == 1 else 'takes'})" for name, n in counts.items()]
    print(f"actions: {', '.join(found)}")
    print(f"wrote {args.out} ({len(takes)} takes, cameras {args.cameras})")
    if args.cameras != "h36m":
        print(f"the cameras are stored in {args.out / 'cameras.json'}, where the loader finds them")
    return 0


def run_export(args: argparse.Namespace) -> int:
    from starpose.lift.to_bvh import export_result

    done = export_result(args.result, args.out, fps=args.fps, unit=args.unit, naming=args.names,
                         timeline=args.timeline, trajectory=not args.no_trajectory)
    motion = "with its trajectory" if done.trajectory else "root-relative, on the spot"
    print(f"wrote {done.path}: {done.frames} frames at {done.fps:g} fps from frame "
          f"{done.first_frame} ({done.lifted_frames} lifted), {args.names} names, {motion}")
    return 0
