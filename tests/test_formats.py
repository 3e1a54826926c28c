"""Input keypoint formats: writers for each format, detection, H36M conversion, gap filling."""
import json
import os

import numpy as np
import pytest

from starpose.errors import StarposeError
from starpose.formats import (
    COCO_NAMES,
    LAYOUTS,
    MEDIAPIPE_NAMES,
    OPENPOSE_NAMES,
    AnyOf,
    detect_format,
    load_keypoints,
    read_coco_json,
)

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


def _triplets(points, conf):
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
                               "keypoints": _triplets(other_pts, np.full(17, 0.5))})
        detections.append({"image_id": t, "category_id": 1, "score": 0.95,
                           "keypoints": _triplets(pts[t], conf[t])})
    obj = {"width": size[0], "height": size[1], "annotations": detections} if with_size else detections
    path.write_text(json.dumps(obj))
    return path


def write_coco_frames(path, xy, size=(W, H)):
    """A dict ``{"frames": [{"frame": t, "people": [{"keypoints": [...]}]}]}`` with the size."""
    pts = source_points(xy, "coco")
    frames = [{"frame": t, "people": [{"keypoints": _triplets(p, np.full(17, 0.8))}]}
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
        person = {"person_id": [-1], "pose_keypoints_2d": _triplets(p, np.full(25, 0.85))}
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


# --------------------------------------------------------------------------- tests


@pytest.fixture(scope="module")
def motion():
    return fake_motion(40, seed=1)[1]


def _load_one(path, **kw):
    seqs = load_keypoints(path, **kw)
    assert len(seqs) == 1
    return seqs[0]


def test_mapping_tables_cover_h36m_and_use_existing_points():
    for layout, (names, table) in LAYOUTS.items():
        assert set(table) == set(H36M), layout
        for joint, terms in table.items():
            assert sum(w for w, _ in terms) == pytest.approx(1.0), (layout, joint)
            for _, group in terms:
                assert set(group) <= set(names), (layout, joint, group)
    assert len(COCO_NAMES) == 17 and len(MEDIAPIPE_NAMES) == 33 and len(OPENPOSE_NAMES) == 25
    assert isinstance(LAYOUTS["coco"][1]["Head"][0][1], AnyOf)


@pytest.mark.parametrize(
    "kind, writer, kwargs, tol",
    [
        ("coco", lambda p, xy: write_coco_results(p / "det.json", xy), {}, 1e-6),
        ("coco", lambda p, xy: write_coco_frames(p / "frames.json", xy), {}, 1e-6),
        ("mediapipe", lambda p, xy: write_mediapipe_json(p / "mp.json", xy), {"width": W, "height": H}, 1e-6),
        ("mediapipe", lambda p, xy: write_mediapipe_csv(p / "mp.csv", xy), {"width": W, "height": H}, 1e-6),
        ("mediapipe", lambda p, xy: write_mediapipe_csv(p / "wide.csv", xy, wide=True), {"width": W, "height": H}, 1e-6),
        ("openpose", lambda p, xy: write_openpose_dir(p / "op", xy), {"width": W, "height": H}, 1e-6),
        ("openpose", lambda p, xy: write_openpose_dir(p / "op", xy, unpadded=True), {"width": W, "height": H}, 1e-6),
        ("videopose3d", lambda p, xy: write_videopose3d(p / "data_2d_custom_x.npz", {"walk.mp4": xy}), {}, 1e-3),
        ("h36m", lambda p, xy: write_npy(p / "kp.npy", xy), {"width": W, "height": H}, 1e-3),
    ],
)
def test_every_format_is_detected_and_converts_back_to_h36m(tmp_path, motion, kind, writer, kwargs, tol):
    path = writer(tmp_path, motion)
    assert detect_format(path) == kind
    kp = _load_one(path, **kwargs)
    assert kp.source_format == kind
    assert kp.xy.shape == (40, 17, 2) and kp.xy.dtype == np.float32
    assert kp.confidence.shape == (40, 17) and kp.confidence.min() >= 0 and kp.confidence.max() <= 1
    assert (kp.width, kp.height) == (W, H)
    # Direct joints land in H36M order exactly; the derived ones follow the documented rules.
    np.testing.assert_allclose(kp.xy[:, DIRECT], motion[:, DIRECT], atol=tol * 1000)
    expected = motion if kind == "h36m" else midpoints_in_2d(motion)
    np.testing.assert_allclose(kp.xy, expected, atol=tol * 1000)
    assert not kp.filled.any() and not kp.notes


def test_videopose3d_file_with_several_videos_gives_one_sequence_each(tmp_path, motion):
    path = write_videopose3d(tmp_path / "data_2d_custom_two.npz", {"a.mp4": motion, "b.mp4": motion[:25]})
    seqs = load_keypoints(path)
    assert [s.name for s in seqs] == ["a.mp4", "b.mp4"]
    assert [s.num_frames for s in seqs] == [40, 25]


def test_videopose3d_hostile_pickle_is_refused(tmp_path):
    class Evil:
        def __reduce__(self):
            return (os.system, ("echo pwned",))

    path = tmp_path / "data_2d_custom_evil.npz"
    np.savez(path, positions_2d=np.array(Evil(), dtype=object), metadata=np.array({}, dtype=object))
    with pytest.raises(StarposeError, match="forbidden|refused"):
        load_keypoints(path)


def test_several_people_keep_the_most_confident_track(tmp_path, motion):
    stranger = motion + np.array([300.0, 0.0])
    path = write_coco_results(tmp_path / "crowd.json", motion, extra_people=[stranger])
    kp = _load_one(path)
    np.testing.assert_allclose(kp.xy, midpoints_in_2d(motion), atol=1e-3)
    assert any("several people" in note for note in kp.notes)


def test_track_follows_the_previous_hip_over_a_slightly_better_stranger(tmp_path, motion):
    stranger = motion + np.array([300.0, 0.0])
    conf = np.full((40, 17), 0.9)
    conf[20:] = 0.45  # the stranger (0.5) now scores higher, but the subject is still plausible
    path = write_coco_results(tmp_path / "crowd.json", motion, conf=conf, extra_people=[stranger])
    kp = _load_one(path)
    np.testing.assert_allclose(kp.xy, midpoints_in_2d(motion), atol=1e-3)


def test_missing_frames_and_unsure_joints_are_interpolated_exactly(tmp_path, capsys):
    xy = linear_motion(20)
    conf = np.full((20, 17), 0.9)
    conf[5:8, 13] = 0.1  # unsure left wrist, interior
    conf[0:2, 3] = 0.0   # right foot missing at the start: nearest valid frame
    conf[18:, 16] = 0.2  # right wrist unsure at the end
    noisy = xy.copy()
    noisy[conf < 0.3] += 500.0  # garbage where unsure: must not leak into the result
    kp = _load_one(write_npy(tmp_path / "lin.npy", noisy, conf), width=W, height=H)
    expected = xy.copy()
    expected[0:2, 3] = xy[2, 3]
    expected[18:, 16] = xy[17, 16]
    np.testing.assert_allclose(kp.xy, expected, atol=1e-3)
    assert kp.filled.sum() == 3 + 2 + 2
    assert any("filled 7 of 340 joint positions (2.1 %)" in n for n in kp.notes)


def test_frames_without_a_person_are_interpolated(tmp_path):
    xy = linear_motion(20)
    path = write_coco_results(tmp_path / "gaps.json", xy, skip_frames={3, 4, 10})
    kp = _load_one(path)
    assert kp.num_frames == 20
    np.testing.assert_allclose(kp.xy, midpoints_in_2d(xy), atol=1e-3)
    assert any("3 frame(s) had no person" in n for n in kp.notes)


def test_nan_keypoints_count_as_missing(tmp_path):
    xy = linear_motion(10)
    broken = xy.copy()
    broken[4, 9] = np.nan
    kp = _load_one(write_npy(tmp_path / "nan.npy", broken), width=W, height=H)
    np.testing.assert_allclose(kp.xy, xy, atol=1e-3)


def test_min_confidence_is_configurable(tmp_path):
    xy = linear_motion(10)
    conf = np.full((10, 17), 0.5)
    path = write_npy(tmp_path / "c.npy", xy, conf)
    assert not _load_one(path, width=W, height=H).filled.any()
    with pytest.raises(StarposeError, match="every frame"):
        load_keypoints(path, width=W, height=H, min_confidence=0.6)


def test_coco_annotation_file_orders_frames_by_image_and_reads_visibility_flags(tmp_path, motion):
    pts = source_points(motion[:5], "coco")
    flags = np.full(17, 2.0)
    flags[9] = 0  # not labelled: left wrist
    ids = [397133, 37777, 252219, 87038, 174482]  # COCO-like image ids, unrelated to time
    images = [{"id": i, "file_name": f"frame_{t:04d}.jpg", "width": W, "height": H}
              for t, i in reversed(list(enumerate(ids)))]
    anns = [{"image_id": i, "keypoints": _triplets(p, flags)} for i, p in zip(ids, pts) if i != 252219]
    path = tmp_path / "gt.json"
    path.write_text(json.dumps({"images": images, "annotations": anns}))
    kp = read_coco_json(path)[0]
    assert kp.num_frames == 5 and (kp.width, kp.height) == (W, H)
    np.testing.assert_allclose(kp.xy[[0, 1, 3, 4]][:, DIRECT], motion[[0, 1, 3, 4]][:, DIRECT], atol=1e-3)
    assert (kp.confidence[2] == 0).all()  # no annotation for that image: no person
    assert kp.confidence[0, 13] == 0 and kp.confidence[0, 16] == 1


@pytest.mark.parametrize(
    "setup, message",
    [
        (lambda p: (p / "bad.json").write_text("{not json"), "not valid JSON"),
        (lambda p: (p / "odd.json").write_text(json.dumps({"hello": [1, 2]})), "cannot tell the keypoint format"),
        (lambda p: (p / "k.json").write_text(json.dumps([{"image_id": 0, "keypoints": [1.0] * 54}])), "expected 17 COCO keypoints"),
        (lambda p: (p / "empty.json").write_text("[]"), "cannot tell|no frames"),
        (lambda p: np.save(p / "j.npy", np.zeros((5, 18, 2))), r"\(T, 17, 2\)"),
        (lambda p: np.save(p / "z.npy", np.zeros((0, 17, 2))), "no frames"),
        (lambda p: (p / "f.txt").write_text("x"), "cannot tell"),
    ],
)
def test_bad_inputs_raise_clear_errors(tmp_path, setup, message):
    setup(tmp_path)
    path = next(tmp_path.iterdir())
    with pytest.raises(StarposeError, match=message) as err:
        load_keypoints(path, width=W, height=H)
    assert path.name in str(err.value)


def test_mediapipe_needs_the_image_size(tmp_path, motion):
    path = write_mediapipe_json(tmp_path / "mp.json", motion)
    with pytest.raises(StarposeError, match="--width and --height"):
        load_keypoints(path)


def test_image_size_is_required_where_the_file_lacks_it(tmp_path, motion):
    path = write_coco_results(tmp_path / "nosize.json", motion, with_size=False)
    with pytest.raises(StarposeError, match="nosize.json.*--width and --height"):
        load_keypoints(path)
    assert _load_one(path, width=640, height=480).width == 640


def test_openpose_wrong_joint_count_and_single_file(tmp_path, motion):
    folder = write_openpose_dir(tmp_path / "op", motion[:3])
    one = next(folder.iterdir())
    with pytest.raises(StarposeError, match="pass the folder"):
        detect_format(one)
    data = json.loads(one.read_text())
    data["people"][0]["pose_keypoints_2d"] = [1.0] * 54  # COCO-18 model output
    one.write_text(json.dumps(data))
    with pytest.raises(StarposeError, match="expected 25 BODY_25 keypoints"):
        load_keypoints(folder, width=W, height=H)


def test_openpose_undetected_points_are_zero_confidence(tmp_path, motion):
    folder = write_openpose_dir(tmp_path / "op", motion[:6])
    file = sorted(folder.iterdir())[2]
    data = json.loads(file.read_text())
    values = data["people"][0]["pose_keypoints_2d"]
    values[4 * 3 : 4 * 3 + 3] = [0.0, 0.0, 0.0]  # right wrist undetected
    file.write_text(json.dumps(data))
    kp = _load_one(folder, width=W, height=H)
    assert kp.filled[2, 16] and kp.filled.sum() == 1
    np.testing.assert_allclose(kp.xy[2, 16], (motion[1, 16] + motion[3, 16]) / 2, atol=1e-3)


def test_pickled_npy_is_refused(tmp_path):
    path = tmp_path / "obj.npy"
    np.save(path, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(StarposeError, match="obj.npy"):
        load_keypoints(path, width=W, height=H)
