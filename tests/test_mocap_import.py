"""BVH import: naming families, derived joints by hand, units and axes, resampling, cameras,
the written files through the unchanged loader, bad input, and import -> train -> evaluate."""
import json

import numpy as np
import pytest

from starpose.cli import main
from starpose.data.cameras import project_to_2d, world_to_camera
from starpose.datasets.h36m.files import load_h36m
from starpose.data.safe_pickle import load_npz
from starpose.data.skeleton import H36M_32, JOINTS_KEPT_FOR_17
from starpose.errors import DataError
from starpose.mocap.bvh import parse_bvh
from starpose.mocap.dataset import import_clips, load_take
from starpose.mocap.normalize import ANKLE_FRACTION, resample
from starpose.mocap.retarget import HEAD_TOP_FRACTION, detect_map, read_mapping, retarget
from starpose.data.camera_file import read_cameras_json
from tests.test_mocap_bvh import END_SITES, make_bvh

MIXAMO = {name: f"mixamorig:{name}" for name in (
    "Hips", "LeftUpLeg", "LeftLeg", "LeftFoot", "RightUpLeg", "RightLeg", "RightFoot", "Spine",
    "Spine1", "Neck", "Head", "LeftShoulder", "LeftArm", "LeftForeArm", "LeftHand",
    "RightShoulder", "RightArm", "RightForeArm", "RightHand", "HeadTop_End")}
HUMANOID = {"LeftUpLeg": "UpperLeg_L", "LeftLeg": "LowerLeg.L", "LeftFoot": "LFoot",
            "RightUpLeg": "upperleg_r", "RightLeg": "R_LowerLeg", "RightFoot": "Foot.R",
            "LeftArm": "LeftUpperArm", "LeftForeArm": "LowerArmLeft", "LeftHand": "hand_l",
            "RightArm": "UpperArm_R", "RightForeArm": "RLowerArm", "RightHand": "Hand.R",
            "Spine1": "Chest", "LeftShoulder": "Shoulder_L", "RightShoulder": "Shoulder_R"}
# The Human3.6M joints of the rest pose of BODY, worked out from its offsets (cm, y up).
EXPECTED_REST = np.array([
    (0, 90, 0), (-10, 90, 0), (-10, 48, 0), (-10, 6, 0), (10, 90, 0), (10, 48, 0), (10, 6, 0),
    (0, 117.5, 0), (0, 145, 0), (0, 157, 0), (0, 175, 0),
    (18, 145, 0), (46, 145, 0), (71, 145, 0), (-18, 145, 0), (-46, 145, 0), (-71, 145, 0)], float)
STATURE_CM = (42 + 42 + 55 + 12) / 0.85


def _family_clip(family, frames=3, frame_time=0.01, motion=None):
    if family == "cmu":
        return make_bvh(motion, frames=frames, frame_time=frame_time)
    if family == "mixamo":  # inches, XYZ, 6 channels on every joint, a HeadTop_End joint
        sites = {k: v for k, v in END_SITES.items() if k != "Head"} | {"HeadTop_End": (0, 2, 0)}
        return make_bvh(motion, names=MIXAMO, order="XYZ", all_positions=True, scale=1 / 2.54,
                        frames=frames, frame_time=frame_time, end_sites=sites,
                        extra=[("HeadTop_End", "Head", (0, 18, 0))])
    # humanoid: metres, z up, YZX, no End Site on the head
    sites = {k: v for k, v in END_SITES.items() if k != "Head"}
    return make_bvh(motion, names=HUMANOID, order="YZX", scale=0.01, up="z", frames=frames,
                    frame_time=frame_time, end_sites=sites)


@pytest.mark.parametrize("family, scale", [("cmu", 1.0), ("mixamo", 1 / 2.54),
                                           ("humanoid", 0.01)])
def test_each_family_is_detected_and_retargeted_as_worked_out_by_hand(family, scale):
    clip = parse_bvh(_family_clip(family))
    joint_map = detect_map(clip)
    joints, stature = retarget(clip, joint_map)
    expected = EXPECTED_REST.copy()
    if family == "humanoid":  # no End Site above the head: extrapolated from the head bone
        expected[10] = expected[9] + [0, HEAD_TOP_FRACTION * STATURE_CM, 0]
        expected = np.stack([expected[:, 0], -expected[:, 2], expected[:, 1]], axis=-1)
    assert joint_map.family == family
    assert stature == pytest.approx(STATURE_CM * scale)
    assert joints == pytest.approx(np.broadcast_to(expected * scale, joints.shape), abs=1e-6)


def test_turned_knee_moves_the_ankle_as_computed_by_hand():
    knee = np.tile([90.0, 0, 0], (3, 1))  # ZXY order: 90 deg about z
    clip = parse_bvh(make_bvh({"LeftLeg": knee}))
    joints, _ = retarget(clip, detect_map(clip))
    # Rz(90) maps (0, -42, 0) to (42, 0, 0).
    assert joints[0, 6] == pytest.approx(EXPECTED_REST[5] + [42, 0, 0])


@pytest.mark.parametrize("family, unit", [("cmu", "cm"), ("mixamo", "inch"),
                                          ("humanoid", "m")])
def test_units_and_up_axis_give_the_same_world(tmp_path, family, unit):
    path = tmp_path / f"{family}_walk.bvh"
    path.write_text(_family_clip(family, frames=60))
    take = load_take(path, "S1", up="z" if family == "humanoid" else "y")
    assert take.unit == unit and take.family == family
    assert take.stature_m == pytest.approx(STATURE_CM / 100)
    world = take.world[:, list(JOINTS_KEPT_FOR_17)]
    assert world[:, (3, 6), 2].min() == pytest.approx(ANKLE_FRACTION * take.stature_m, abs=1e-5)
    height = world[0, :, 2] - world[0, 0, 2]  # z up: heights relative to the pelvis
    expected = (EXPECTED_REST[:, 1] - 90) / 100
    if family == "humanoid":
        expected[10] = (157 + HEAD_TOP_FRACTION * STATURE_CM - 90) / 100
    assert height == pytest.approx(expected, abs=1e-5)


def test_resampling_to_50_fps_interpolates_linearly(tmp_path):
    frames = 121  # one second at 120 fps
    t = np.arange(frames) / 120
    root = np.zeros((frames, 6))
    root[:, 1] = 95
    root[:, 2] = 100 * t ** 2  # forward along z, accelerating
    path = tmp_path / "run_01.bvh"
    path.write_text(make_bvh({"Hips": root}, frames=frames, frame_time=1 / 120))
    take = load_take(path, "S1")
    assert take.fps_in == pytest.approx(120) and len(take.world) == 51
    forward = -take.world[:, 0, 1]  # y-up +z becomes world -y
    expected = np.interp(np.arange(51) / 50, t, 100 * t ** 2) / 100
    assert forward - forward[0] == pytest.approx(expected - expected[0], abs=1e-6)
    assert resample(np.arange(5.0)[:, None, None], 2, 4)[:, 0, 0] == pytest.approx(np.arange(9) / 2)


def _walk(frames, phase=0.0):
    """A walking motion of BODY: the root moves forward, legs and arms swing."""
    t = np.arange(frames) / 50
    swing = 30 * np.sin(2 * np.pi * t + phase)
    root = np.zeros((frames, 6))
    root[:, 1] = 95 + 2 * np.cos(4 * np.pi * t)
    root[:, 2] = 120 * t
    root[:, 5] = 10 * np.sin(np.pi * t)
    zero = np.zeros(frames)
    return {"Hips": root,
            "LeftUpLeg": np.c_[zero, swing, zero], "RightUpLeg": np.c_[zero, -swing, zero],
            "LeftLeg": np.c_[zero, 20 + 20 * np.sin(2 * np.pi * t), zero],
            "RightLeg": np.c_[zero, 20 - 20 * np.sin(2 * np.pi * t), zero],
            "LeftArm": np.c_[-70 + zero, -swing, zero], "RightArm": np.c_[70 + zero, swing, zero]}


def _write_clips(folder, count, frames=100):
    folder.mkdir(exist_ok=True)
    paths = []
    for k in range(count):
        path = folder / f"walk_{k + 1:02d}.bvh"
        path.write_text(make_bvh(_walk(frames, k), frames=frames, frame_time=0.02))
        paths.append(path)
    return paths


def test_written_files_load_through_the_h36m_loader_and_match_the_camera_code(tmp_path):
    paths = _write_clips(tmp_path / "clips", 2)
    takes = import_clips(paths, tmp_path / "data", subjects=("S9", "S11"))
    assert [(t.subject, t.action) for t in takes] == [("S9", "walk 01"), ("S11", "walk 02")]
    data = load_npz(tmp_path / "data" / "data_3d_h36m.npz")["positions_3d"]
    world = data["S9"]["walk 01"]
    assert world.shape == (100, 32, 3) and world.dtype == np.float32
    for joint in set(range(32)) - set(JOINTS_KEPT_FOR_17):
        assert np.array_equal(world[:, joint], world[:, H36M_32.parents[joint]])
    root = world[:, 0, :2]
    assert (root.min(0) + root.max(0)) / 2 == pytest.approx([0.25, 0.45], abs=1e-5)
    sequences = load_h36m(tmp_path / "data", "gt")
    assert len(sequences) == 8
    seq = next(s for s in sequences if s.subject == "S9" and s.camera_index == 1)
    camera_frame = world_to_camera(world[:, list(JOINTS_KEPT_FOR_17)].astype(np.float64),
                                   seq.camera.orientation, seq.camera.translation)
    pixels = project_to_2d(camera_frame, seq.camera.intrinsics)
    assert seq.camera.normalize(pixels) == pytest.approx(seq.keypoints_2d, abs=1e-4)
    assert seq.positions_3d[:, 0] == pytest.approx(camera_frame[:, 0], abs=1e-5)
    noisy = load_h36m(tmp_path / "data", "noisy", subjects=["S9"])[1].keypoints_2d
    offset = np.abs(noisy - seq.keypoints_2d).mean() * 500  # normalised -> about pixels
    assert 1 < offset < 20


def test_ring_cameras_are_stored_and_project_like_the_camera_code(tmp_path):
    paths = _write_clips(tmp_path / "clips", 1)
    import_clips(paths, tmp_path / "data", subjects=("S1",), cameras="ring:6", seed=3)
    cameras = read_cameras_json(tmp_path / "data" / "cameras.json")["S1"]
    assert len(cameras) == 6 and len({float(c.focal_length[0]) for c in cameras}) == 6
    world = load_npz(tmp_path / "data" / "data_3d_h36m.npz")["positions_3d"]["S1"]["walk 01"]
    views = load_npz(tmp_path / "data" / "data_2d_h36m_gt.npz")["positions_2d"]["S1"]["walk 01"]
    for camera, view in zip(cameras, views):
        kept = world[:, list(JOINTS_KEPT_FOR_17)].astype(np.float64)
        local = world_to_camera(kept, camera.orientation, camera.translation)
        assert (local[..., 2] > 1).all()  # in front of every camera
        assert project_to_2d(local, camera.intrinsics) == pytest.approx(view, abs=1e-2)
        assert ((view > 0) & (view < 1000)).all()
    sequences = load_h36m(tmp_path / "data", "gt")  # the loader takes the folder's own cameras
    assert [s.camera.id for s in sequences] == [c.id for c in cameras]
    for seq, camera in zip(sequences, cameras):
        absolute = seq.positions_3d.astype(np.float64)
        absolute[:, 1:] += absolute[:, :1]  # the loader keeps the root's trajectory
        pixels = project_to_2d(absolute, camera.intrinsics)
        assert seq.camera.normalize(pixels) == pytest.approx(seq.keypoints_2d, abs=1e-4)
        # The bundled model (camera rays) is fed the rays of the ring camera, not of a default
        # one: what fine-tuning it on imported motion capture trains on.
        from starpose.data.model_input import sequence_input

        rays = (pixels - camera.center) / camera.focal_length
        assert sequence_input(seq, "view").keypoints_2d == pytest.approx(rays, abs=1e-5)


def test_mapping_file_with_a_midpoint(tmp_path):
    names = {"LeftUpLeg": "thigh_a", "RightUpLeg": "thigh_b", "Head": "skull"}
    clip = parse_bvh(make_bvh(names=names))
    with pytest.raises(DataError, match=r"no bone for .*LHip.*the file's bones: Hips"):
        detect_map(clip)
    mapping = {"RHip": "thigh_b", "RKnee": "RightLeg", "RFoot": "RightFoot", "LHip": "thigh_a",
               "LKnee": "LeftLeg", "LFoot": "LeftFoot", "Neck/Nose": "skull",
               "LShoulder": "LeftArm", "LElbow": "LeftForeArm", "LWrist": "LeftHand",
               "RShoulder": "RightArm", "RElbow": "RightForeArm", "RWrist": "RightHand",
               "Thorax": ["Neck", "spine1"]}
    path = tmp_path / "map.json"
    path.write_text(json.dumps(mapping))
    joints, _ = retarget(clip, read_mapping(path, clip))
    expected = EXPECTED_REST.copy()
    expected[8] = (0, 136, 0)  # mid(Neck at 147, Spine1 at 125)
    expected[7] = (expected[0] + expected[8]) / 2
    assert joints[0] == pytest.approx(expected)
    path.write_text(json.dumps(mapping | {"LKnee": "Knee_L"}))
    with pytest.raises(DataError, match="bone 'Knee_L' .for LKnee. is not in"):
        read_mapping(path, clip)


@pytest.mark.parametrize("case", ["unmapped", "short", "malformed", "split"])
def test_bad_input_is_one_line_and_writes_nothing(tmp_path, capsys, case):
    good = _write_clips(tmp_path / "clips", 1)[0]
    bad = tmp_path / "clips" / "bad.bvh"
    extra = []
    if case == "unmapped":
        bad.write_text(make_bvh(names={"LeftArm": "upper_left"}, frames=60))
        expected = "no bone for LShoulder"
    elif case == "short":
        bad.write_text(make_bvh(frames=30, frame_time=1 / 60))
        expected = "only 25 frames at 50 fps, fewer than the 27"
    elif case == "malformed":
        bad.write_text(make_bvh(frames=60).replace("Frames: 60", "Frames: 61"))
        expected = "'Frames: 61' but the motion table has 60 lines"
    else:
        split = tmp_path / "split.json"
        split.write_text(json.dumps({"walk_01.bvh": "S1"}))
        bad.write_text(make_bvh(frames=60))
        extra = ["--split", str(split)]
        expected = "no subject for"
    code = main(["mocap", "import", str(good), str(bad), "--out",
                           str(tmp_path / "out")] + extra)
    err = capsys.readouterr().err.strip()
    assert code == 2 and expected in err and "\n" not in err
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


@pytest.mark.slow
def test_import_then_train_and_evaluate_unchanged(tmp_path, capsys):
    paths = _write_clips(tmp_path / "clips", 7, frames=120)
    data = tmp_path / "data"
    assert main(["mocap", "import", *map(str, paths), "--out", str(data)]) == 0
    out = capsys.readouterr().out
    assert "cmu names, unit cm" in out and "S11 'walk 07'" in out
    run = tmp_path / "run"
    assert main(["train", "--data-dir", str(data), "--keypoints", "noisy", "--preset",
                 "star-mixste-27", "--epochs", "1", "--max-batches-per-epoch", "2",
                 "--out", str(run), "--device", "cpu"]) == 0
    assert main(["evaluate", "--data-dir", str(data), "--keypoints", "noisy", "--checkpoint",
                 str(run / "best.pt"), "--device", "cpu"]) == 0
    assert "walk" in capsys.readouterr().out
