"""``starpose evaluate --trajectory``: world motion against the ground truth of synthetic sets.

For each test sequence (one take through one camera): the model lifts the 2D keypoints
(root-relative), the root is placed by the geometric estimate and by the trajectory model
(:mod:`starpose.world`, :mod:`starpose.models.trajectory`), and the world motion is built as
``starpose lift`` builds it, with the camera's true intrinsics. Scored
(:mod:`starpose.world.scores`, frame-weighted over sequences):

* root error: mm, and as a fraction of the camera distance;
* W-MPJPE (mm): world joints after aligning the first two frames to the truth's (z-up world
  turned y up);
* foot sliding (mm per frame in contact) before and after the contact correction, over the
  contacts of the ground truth, next to the ground truth's own sliding.

Rows: all sequences, the Human3.6M cameras (camera 0 of the varied sets) and the others.
"""
from __future__ import annotations

import numpy as np

from starpose.data.cameras import image_coordinates
from starpose.world import world_motion
from starpose.world.contacts import foot_contacts
from starpose.world.foot_sliding import foot_sliding
from starpose.world.intrinsics import to_rays
from starpose.world.scores import root_errors, w_mpjpe

COLUMNS = ("root_mm", "root_per_distance", "w_mpjpe_mm", "sliding_before_mm",
           "sliding_after_mm", "sliding_truth_mm")


def _truth(seq) -> tuple[np.ndarray, np.ndarray]:
    """``(joints in camera coordinates, y-up world joints)`` of a sequence's ground truth."""
    cam = np.array(seq.positions_3d, np.float64)
    cam[:, 1:] += cam[:, :1]
    world = seq.camera.camera_to_world(cam)
    return cam, np.stack([world[..., 0], world[..., 2], -world[..., 1]], axis=-1)


def score_sequence(poses: np.ndarray, seq, fps: float, trajectory_model=None) -> dict:
    """The scores of one sequence's lifted ``poses`` (T, 17, 3) for the geometric root and,
    when given, the trajectory model's: ``{method: {column: value}}``."""
    from starpose.models.trajectory import predict_root

    cam, truth = _truth(seq)
    pixels = image_coordinates(np.asarray(seq.keypoints_2d, np.float64), seq.camera.res_w,
                               seq.camera.res_h)
    intrinsics = np.asarray(seq.camera.intrinsics[:4], np.float64)
    contacts = foot_contacts(truth, fps)
    roots = {"geometric": None}
    if trajectory_model is not None:
        roots["model"] = predict_root(trajectory_model, to_rays(pixels, intrinsics))
    out = {}
    for method, root in roots.items():
        locked = world_motion(poses, pixels, intrinsics, fps, model_root=root)
        plain = world_motion(poses, pixels, intrinsics, fps, model_root=root, lock_feet=False)
        error, fraction = root_errors(locked["root_cam"].astype(np.float64), cam[:, 0])
        out[method] = {"root_mm": 1000 * error, "root_per_distance": fraction,
                       "w_mpjpe_mm": 1000 * w_mpjpe(locked["joints_world"].astype(np.float64), truth),
                       "sliding_before_mm": 1000 * foot_sliding(plain["joints_world"], contacts),
                       "sliding_after_mm": 1000 * foot_sliding(locked["joints_world"], contacts),
                       "sliding_truth_mm": 1000 * foot_sliding(truth, contacts),
                       "frames": len(poses)}
    return out


def _mean(rows: list[dict]) -> dict:
    frames = np.array([r["frames"] for r in rows], np.float64)
    out = {}
    for column in COLUMNS:
        values = np.array([r[column] for r in rows], np.float64)
        keep = np.isfinite(values)
        out[column] = float(np.average(values[keep], weights=frames[keep])) if keep.any() else None
    return {**out, "frames": int(frames.sum()), "sequences": len(rows)}


def trajectory_report(model, sequences, *, fps: float, trajectory_model=None, flip: bool = True,
                      batch_size: int = 64, progress: bool = True) -> tuple[dict, str]:
    """Lift and score every sequence; returns ``({method: {group: means}}, table text)``."""
    from tqdm import tqdm

    from starpose.data.model_input import input_norm_of, sequences_input
    from starpose.inference.predictors import predict_sequence

    inputs = sequences_input(sequences, input_norm_of(model))
    scored = []
    for seq, given in tqdm(list(zip(sequences, inputs)), desc="trajectory", unit="seq",
                           disable=not progress):
        poses = predict_sequence(model, given.keypoints_2d, flip=flip, batch_size=batch_size)
        scored.append((seq.camera_index, score_sequence(np.asarray(poses, np.float64), seq, fps,
                                                        trajectory_model)))
    groups = {"all": lambda c: True, "h36m camera": lambda c: c == 0,
              "other cameras": lambda c: c != 0}
    result = {}
    for method in scored[0][1]:
        result[method] = {name: _mean([s[method] for c, s in scored if keep(c)])
                          for name, keep in groups.items() if any(keep(c) for c, _ in scored)}
    return result, format_table(result)


def format_table(result: dict) -> str:
    """The plain-text table of :func:`trajectory_report`'s numbers."""
    head = (f"{'root':<10} {'cameras':<14} {'seq':>4} {'root mm':>8} {'% dist':>7} "
            f"{'W-MPJPE':>8} {'slide':>6} {'locked':>7} {'truth':>6}")
    lines = ["World motion (root error; W-MPJPE after aligning the first two frames; foot sliding "
             "in mm per frame in contact)", head, "-" * len(head)]
    for method, groups in result.items():
        for name, r in groups.items():
            def cell(key, scale=1.0, fmt="8.1f"):
                return format(r[key] * scale, fmt) if r[key] is not None else "-".rjust(int(fmt[0]))
            lines.append(f"{method:<10} {name:<14} {r['sequences']:>4} {cell('root_mm')} "
                         f"{cell('root_per_distance', 100, '7.2f')} {cell('w_mpjpe_mm')} "
                         f"{cell('sliding_before_mm', 1, '6.1f')} {cell('sliding_after_mm', 1, '7.1f')} "
                         f"{cell('sliding_truth_mm', 1, '6.1f')}")
    return "\n".join(lines)
