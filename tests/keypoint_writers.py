"""Test helpers for keypoint inputs: a fake motion and a writer for every input format.

Shared by the ``test_formats_*`` files and ``test_lift.py``. The writers produce files the way
each detector does, from H36M pixels ``(T, 17, 2)``, such that reading them back must give the
same H36M joints (:func:`midpoints_in_2d` of the input for the formats that derive joints).
"""
import json

import numpy as np

from starpose.formats import LAYOUTS, load_keypoints

W, H = 1000, 800
H36M = ("Hip", "RHip", "RKnee", "RFoot", "LHip", "LKnee", "LFoot", "Spine", "Thorax",
        "Neck/Nose", "Head", "LShoulder", "LElbow", "LWrist", "RShoulder", "RElbow", "RWrist")
# Joints every source layout has as such (no averaging or extrapolation involved).
DIRECT = [1, 2, 3, 4, 5, 6, 11, 12, 13, 14, 15, 16]
# Standing pose (metres, camera axes: x right, y down, z forward), facing the camera, so the
# subject's right side is on the image's left. Hip, Spine and Thorax are exact midpoints, which
# makes the mapping's derived joints exact too.
_TEMPLATE = np.array([
    [0.0, 0.0, 0.0], [-0.12, 0.0, 0.0], [-0.12, 0.45, 0.02], [-0.12, 0.88, 0.0],
    [0.12, 0.0, 0.0], [0.12, 0.45, 0.02], [0.12, 0.88, 0.0], [0.0, -0.25, 0.0],
    [0.0, -0.5, 0.0], [0.0, -0.62, -0.08], [0.0, -0.75, 0.0], [0.18, -0.5, 0.0],
    [0.2, -0.24, 0.0], [0.22, 0.0, -0.05], [-0.18, -0.5, 0.0], [-0.2, -0.24, 0.0],
    [-0.22, 0.0, -0.05],
])


# --------------------------------------------------------------------------- fake motion


def _rot_y(angle):
    c, s = np.cos(angle), np.sin(angle)
    return np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]])


def _limb(start, angle_side, angle_front, side, length):
    """End of a limb of ``length`` hanging from ``start (T, 3)``, raised sideways and forwards."""
    direction = np.stack([side * np.sin(angle_side), np.cos(angle_side) * np.cos(angle_front),
                          -np.cos(angle_side) * np.sin(angle_front)], axis=-1)
    return start + length * direction


def _oscillation(rng, t, low, high):
    """A random slow oscillation in [low, high] over frames ``t``."""
    amplitude = rng.uniform(0, 1) * (high - low)
    return low + amplitude * 0.5 * (1 + np.sin(rng.uniform(0.05, 0.25) * t + rng.uniform(0, 6.3)))


def fake_motion(frames=40, seed=0):
    """A random exercise-like motion: camera coordinates ``(T, 17, 3)`` and pixels ``(T, 17, 2)``.

    Arms raise sideways and forwards, legs swing and knees bend, the body turns a little; all
    visible in 2D, so a lifter can beat the mean pose by far.
    """
    rng = np.random.default_rng(seed)
    t = np.arange(frames)
    poses = np.repeat(_TEMPLATE[None], frames, axis=0).astype(np.float64)
    for side, (hip, knee, foot, shoulder, elbow, wrist) in ((1, (4, 5, 6, 11, 12, 13)),
                                                            (-1, (1, 2, 3, 14, 15, 16))):
        raise_side, raise_front = _oscillation(rng, t, 0, 1.5), _oscillation(rng, t, -0.3, 1.2)
        bend = _oscillation(rng, t, 0, 1.2)
        poses[:, elbow] = _limb(poses[:, shoulder], raise_side, raise_front, side, 0.27)
        poses[:, wrist] = _limb(poses[:, elbow], raise_side, raise_front + bend, side, 0.25)
        thigh, knee_bend = _oscillation(rng, t, -0.4, 0.6), _oscillation(rng, t, 0, 1.0)
        spread = _oscillation(rng, t, 0, 0.3)
        poses[:, knee] = _limb(poses[:, hip], spread, thigh, side, 0.45)
        poses[:, foot] = _limb(poses[:, knee], spread, thigh - knee_bend, side, 0.43)
    angles = rng.uniform(-0.6, 0.6) + 0.3 * np.sin(0.05 * t + rng.uniform(0, 6.3))
    poses = np.einsum("tij,tkj->tki", np.stack([_rot_y(a) for a in angles]), poses)
    offset = np.stack([0.3 * np.sin(0.03 * t), 0.05 * np.sin(0.1 * t), 4.5 + 0.2 * np.cos(0.02 * t)], -1)
    poses = poses + offset[:, None]
    return poses.astype(np.float32), project(poses)


def project(poses, focal=1000.0):
    """Pinhole projection of camera coordinates ``(..., 3)`` to pixels ``(..., 2)``."""
    xy = focal * poses[..., :2] / poses[..., 2:3] + np.array([W / 2, H / 2])
    return xy.astype(np.float64)


def linear_motion(frames=20):
    """Pixels ``(T, 17, 2)`` moving linearly in time: interpolation must be exact on them."""
    base = project(_TEMPLATE + np.array([0, 0, 4.5]))
    velocity = np.linspace(-3, 3, 34).reshape(17, 2)
    return base[None] + velocity[None] * np.arange(frames)[:, None, None]


# --------------------------------------------------------------------------- writers


def midpoints_in_2d(xy):
    """``(T, 17, 2)`` with Hip, Spine and Thorax as 2D midpoints, as the conversion derives them.

    Under perspective the projected 3D midpoint differs slightly from the midpoint of the
    projections; this is what a converted detector output can at best give back.
    """
    xy = np.array(xy, dtype=np.float64)
    xy[:, 0] = (xy[:, 1] + xy[:, 4]) / 2
    xy[:, 8] = (xy[:, 11] + xy[:, 14]) / 2
    xy[:, 7] = (xy[:, 0] + xy[:, 8]) / 2
    return xy


def source_points(xy, layout):
    """H36M pixels ``(T, 17, 2)`` -> points of ``layout`` ``(T, K, 2)``.

    They convert back to :func:`midpoints_in_2d` of ``xy`` exactly: the face is placed so that
    the mapping's head rule (face centre pushed out by half the thorax-to-face distance) returns
    the H36M head; hand and foot extras sit near their joints.
    """
    j = {name: p for name, p in zip(H36M, midpoints_in_2d(xy).transpose(1, 0, 2))}
    face = (j["Head"] + 0.5 * j["Thorax"]) / 1.5
    d = np.array([6.0, 0.0])
    pts = {
        "nose": j["Neck/Nose"], "neck": j["Thorax"], "mid_hip": j["Hip"],
        "left_eye": face + d, "right_eye": face - d, "left_ear": face + 2 * d, "right_ear": face - 2 * d,
        "left_eye_inner": face + 0.5 * d, "right_eye_inner": face - 0.5 * d,
        "left_eye_outer": face + 1.5 * d, "right_eye_outer": face - 1.5 * d,
        "mouth_left": j["Neck/Nose"] + d, "mouth_right": j["Neck/Nose"] - d,
    }
    for side, s in (("left", "L"), ("right", "R")):
        for part, joint in (("shoulder", "Shoulder"), ("elbow", "Elbow"), ("wrist", "Wrist"),
                            ("hip", "Hip"), ("knee", "Knee"), ("ankle", "Foot")):
            pts[f"{side}_{part}"] = j[f"{s}{joint}"]
        for k, extra in enumerate(("pinky", "index", "thumb")):
            pts[f"{side}_{extra}"] = j[f"{s}Wrist"] + (k + 1) * d
        for k, extra in enumerate(("heel", "foot_index", "big_toe", "small_toe")):
            pts[f"{side}_{extra}"] = j[f"{s}Foot"] + (k + 1) * d
    names = LAYOUTS[layout][0]
    return np.stack([pts[n] for n in names], axis=1)


def triplets(points, conf):
    """``(K, 2)`` + ``(K,)`` -> flat ``[x, y, c] * K`` list of Python floats."""
    return np.concatenate([points, conf[:, None]], axis=1).ravel().tolist()


def write_coco_results(path, xy, conf=None, extra_people=(), skip_frames=(), with_size=True, size=(W, H)):
    """COCO results style: a flat list of detections with ``image_id`` (frames may be skipped).

    ``extra_people``: further ``(T, 17, 2)`` H36M sequences (scored 0.5) to appear in each frame.
    """
    pts = source_points(xy, "coco")
    conf = np.full(pts.shape[:2], 0.9) if conf is None else conf
    detections = []
    for t in range(len(pts)):
        if t in skip_frames:
            continue
        for other in extra_people:
            other_pts = source_points(other, "coco")[t]
            detections.append({"image_id": t, "category_id": 1, "score": 0.5,
                               "keypoints": triplets(other_pts, np.full(17, 0.5))})
        detections.append({"image_id": t, "category_id": 1, "score": 0.95,
                           "keypoints": triplets(pts[t], conf[t])})
    obj = {"width": size[0], "height": size[1], "annotations": detections} if with_size else detections
    path.write_text(json.dumps(obj))
    return path


def write_coco_frames(path, xy, size=(W, H)):
    """A dict ``{"frames": [{"frame": t, "people": [{"keypoints": [...]}]}]}`` with the size."""
    pts = source_points(xy, "coco")
    frames = [{"frame": t, "people": [{"keypoints": triplets(p, np.full(17, 0.8))}]}
              for t, p in enumerate(pts)]
    path.write_text(json.dumps({"width": size[0], "height": size[1], "fps": 30, "frames": frames}))
    return path


def write_mediapipe_json(path, xy, size=(W, H)):
    pts = source_points(xy, "mediapipe") / np.array(size)
    frames = [{"landmarks": [{"x": x, "y": y, "z": 0.0, "visibility": 0.99} for x, y in p.tolist()]}
              for p in pts]
    path.write_text(json.dumps(frames))
    return path


def write_mediapipe_csv(path, xy, wide=False, size=(W, H)):
    pts = source_points(xy, "mediapipe") / np.array(size)
    if wide:
        header = ["frame"] + [f"{c}{i}" for i in range(33) for c in ("x", "y", "z", "v")]
        rows = [[t] + [v for x, y in p.tolist() for v in (x, y, 0.0, 0.99)] for t, p in enumerate(pts)]
    else:
        header = ["frame", "landmark", "x", "y", "z", "visibility"]
        rows = [[t, i, x, y, 0.0, 0.99] for t, p in enumerate(pts) for i, (x, y) in enumerate(p.tolist())]
    path.write_text("\n".join(",".join(map(str, r)) for r in [header] + rows) + "\n")
    return path


def write_openpose_dir(folder, xy, unpadded=False):
    pts = source_points(xy, "openpose")
    folder.mkdir()
    for t, p in enumerate(pts):
        name = f"clip_{t}_keypoints.json" if unpadded else f"clip_{t:012d}_keypoints.json"
        person = {"person_id": [-1], "pose_keypoints_2d": triplets(p, np.full(25, 0.85))}
        (folder / name).write_text(json.dumps({"version": 1.3, "people": [person]}))
    return folder


def write_videopose3d(path, videos, size=(W, H)):
    """``data_2d_custom_*.npz`` as VideoPose3D's prepare script writes it (COCO layout)."""
    positions = {name: {"custom": [source_points(xy, "coco").astype(np.float32)]}
                 for name, xy in videos.items()}
    metadata = {"layout_name": "coco", "num_joints": 17,
                "keypoints_symmetry": [[1, 3, 5, 7, 9, 11, 13, 15], [2, 4, 6, 8, 10, 12, 14, 16]],
                "video_metadata": {name: {"w": size[0], "h": size[1]} for name in videos}}
    np.savez_compressed(path, positions_2d=positions, metadata=metadata)
    return path


def write_npy(path, xy, conf=None):
    arr = xy if conf is None else np.concatenate([xy, conf[..., None]], axis=-1)
    np.save(path, arr.astype(np.float32))
    return path


def load_one(path, **kw):
    """The single sequence :func:`load_keypoints` reads from ``path``."""
    seqs = load_keypoints(path, **kw)
    assert len(seqs) == 1
    return seqs[0]
