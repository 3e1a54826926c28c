"""BVH export: round trips through the reader, exact bone directions, the T-pose rest, the
continuity of the angles and the command (time line, trajectory, bad input)."""
import json
import shutil
import subprocess
import sys

import numpy as np
import pytest

from starpose.cli import main
from starpose.data.skeleton import H36M_17
from starpose.mocap.bvh import read_bvh
from starpose.mocap.export import bone_lengths, camera_to_bvh, rest_positions, write_bvh
from starpose.mocap.rig_bones import BONES, bone_names, joint_rows
from starpose.mocap.kinematics import euler_to_matrix, forward_kinematics

PARENTS = H36M_17.parents
# Rest bone vectors of a 17-joint body (metres, y up, facing +z, its left is +x).
REST = np.array([(0, 0, 0), (-0.12, -0.02, 0), (0, -0.44, 0.02), (0, -0.43, -0.03),
                 (0.12, -0.02, 0), (0, -0.44, 0.02), (0, -0.43, -0.03), (0, 0.24, -0.01),
                 (0, 0.25, 0.02), (0, 0.11, 0.06), (0, 0.12, -0.02), (0.16, -0.02, -0.01),
                 (0.28, 0, 0), (0.25, 0, 0.01), (-0.16, -0.02, -0.01), (-0.28, 0, 0),
                 (-0.25, 0, 0.01)])


# Knees bend about x (the legs hang along -y), elbows about y (the arms point along +-x):
# joint -> (column of the ZXY angles, sign).
HINGES = {2: (1, 1), 5: (1, 1), 12: (2, -1), 15: (2, 1)}


def _smooth_angles(rng, frames, amplitude):
    t = np.linspace(0, 1, frames)[:, None]
    freq, phase = rng.uniform(0.5, 2.0, (1, 3)), rng.uniform(0, 2 * np.pi, (1, 3))
    return amplitude * np.sin(2 * np.pi * freq * t + phase)


def rigid_motion(frames=200, seed=0, lengths=None):
    """Positions (T, 17, 3) in camera coordinates of a rigid-tree body: every bone turns with
    its parent joint's rotation (so the pelvis and chest keep their shape), each joint by up
    to 35 degrees about every axis (clear of the Euler angles' gimbal lock at 90), knees and
    elbows as hinges; the root walks and turns
    twice round. ``lengths`` (T, 17) optionally scales each bone per frame."""
    rng = np.random.default_rng(seed)
    world_rot = np.empty((frames, 17, 3, 3))
    pos = np.zeros((frames, 17, 3))
    yaw = np.linspace(0, 720, frames)
    root = np.c_[np.zeros(frames), yaw, np.zeros(frames)] + _smooth_angles(rng, frames, 20)
    world_rot[:, 0] = euler_to_matrix(root, "XYZ")
    pos[:, 0] = np.c_[np.linspace(0, 2, frames), 0.9 + np.zeros(frames), np.zeros(frames)]
    for j, parent in enumerate(PARENTS[1:], start=1):
        vector = REST[j] * (np.ones((frames, 1)) if lengths is None else lengths[:, j, None])
        pos[:, j] = pos[:, parent] + np.einsum("tij,tj->ti", world_rot[:, parent], vector)
        angles = _smooth_angles(rng, frames, 35)
        if j in HINGES:  # knees and elbows bend one way about one axis, like a person's
            column, sign = HINGES[j]
            bend = np.zeros((frames, 3))
            bend[:, column] = sign * (60 + 0.8 * angles[:, 1])
            angles = bend
        world_rot[:, j] = world_rot[:, parent] @ euler_to_matrix(angles, "ZXY")
    return camera_to_bvh(pos)  # the map is its own inverse


def read_back(path, naming="starpose"):
    """The clip and the 17 joints' positions (T, 17, 3) by forward kinematics of the file."""
    clip = read_bvh(path)
    names = bone_names(naming)
    order = [clip.names.index(names[row]) for row in joint_rows()]
    return clip, forward_kinematics(clip, order)


def _directions(p):
    bones = [(parent, j) for j, parent in enumerate(PARENTS) if parent >= 0]
    vectors = np.stack([p[:, b] - p[:, a] for a, b in bones], axis=1)
    return vectors / np.linalg.norm(vectors, axis=-1, keepdims=True)


@pytest.mark.parametrize("naming", ["starpose", "mixamo"])
def test_constant_bone_lengths_round_trip_within_a_millimetre(tmp_path, naming):
    positions = rigid_motion()
    write_bvh(tmp_path / "walk.bvh", positions, fps=50, naming=naming)
    clip, back = read_back(tmp_path / "walk.bvh", naming)
    assert clip.frame_time == pytest.approx(0.02) and clip.num_frames == len(positions)
    error = np.linalg.norm(back - camera_to_bvh(positions), axis=-1)
    assert error.max() < 1e-3
    angles = clip.motion[:, 3:]
    assert np.abs(np.diff(angles, axis=0)).max() < 30  # unwrapped: no 360-degree flips
    yaw = clip.motion[:, clip.channels[0].index("Yrotation")]
    assert np.ptp(yaw) > 600  # the root's yaw keeps growing over two turns


def test_every_bone_direction_is_exact_when_the_pelvis_and_chest_deform(tmp_path):
    """The issue's defect: one rotation for all children of the pelvis and the chest put
    Thorax->Neck off by up to 17 degrees. Each child bone now has its own joint."""
    rng = np.random.default_rng(3)
    positions = rigid_motion(80, seed=3)
    # Move the hips, spine, neck and shoulders independently by up to 4 cm.
    wobble = 0.04 * np.sin(np.linspace(0, 9, 80)[:, None, None] + rng.uniform(0, 6, (1, 17, 3)))
    for joint in (1, 4, 7, 9, 11, 14):
        positions[:, joint] += wobble[:, joint]
        for child in range(17):  # carry the joint's subtree along
            k = child
            while k > 0 and k != joint:
                k = PARENTS[k]
            if k == joint and child != joint:
                positions[:, child] += wobble[:, joint]
    write_bvh(tmp_path / "walk.bvh", positions, fps=50)
    _, back = read_back(tmp_path / "walk.bvh")
    cosine = np.sum(_directions(back) * _directions(camera_to_bvh(positions)), axis=-1)
    assert np.degrees(np.arccos(np.clip(cosine, -1, 1))).max() < 0.01


def test_rest_pose_is_a_t_pose_with_the_median_bone_lengths(tmp_path):
    positions = rigid_motion(50, seed=4)
    write_bvh(tmp_path / "walk.bvh", positions, fps=50)
    clip = read_bvh(tmp_path / "walk.bvh")
    names = bone_names("starpose")
    offset = {name: clip.offsets[clip.names.index(name)] for name in names}
    lengths = bone_lengths(camera_to_bvh(positions))
    expected = {"RKnee": (0, -lengths[2], 0), "LFoot": (0, -lengths[6], 0),
                "LHip": (lengths[4], 0, 0), "RHip": (-lengths[1], 0, 0),
                "Spine": (0, lengths[7], 0), "Thorax": (0, lengths[8], 0),
                "Neck_Nose": (0, lengths[9], 0), "Head": (0, lengths[10], 0),
                "LShoulder": (lengths[11], 0, 0), "LElbow": (lengths[12], 0, 0),
                "RWrist": (-lengths[16], 0, 0)}
    for name, vector in expected.items():
        assert offset[name] == pytest.approx(vector, abs=1e-6), name
    for zero in ("RHipRoot", "LHipRoot", "SpineRoot", "NeckRoot", "LCollar", "RCollar"):
        assert np.all(offset[zero] == 0), zero
    rest = rest_positions(lengths) + clip.offsets[0]
    assert min(rest[3, 1], rest[6, 1]) == pytest.approx(0, abs=1e-6)  # T-pose on the floor
    assert len(clip.names) == len(BONES) + 5  # and the End Sites of the 5 leaves


def test_varying_bone_lengths_round_trip_within_the_length_change(tmp_path):
    rng = np.random.default_rng(1)
    frames = 60
    scale = 1 + 0.04 * np.sin(np.linspace(0, 6, frames)[:, None] + rng.uniform(0, 6, (1, 17)))
    scale[:, list(H36M_17.joints_left)] = scale[:, list(H36M_17.joints_right)]
    positions = rigid_motion(frames, seed=1, lengths=scale)
    write_bvh(tmp_path / "walk.bvh", positions, fps=25)
    _, back = read_back(tmp_path / "walk.bvh")
    world = camera_to_bvh(positions)
    written = bone_lengths(world)
    actual = np.linalg.norm(REST, axis=-1) * scale
    bound = np.zeros((frames, 17))
    for j, parent in enumerate(PARENTS[1:], start=1):
        bound[:, j] = bound[:, parent] + np.abs(written[j] - actual[:, j])
    error = np.linalg.norm(back - world, axis=-1)
    assert (error <= bound + 1e-3).all()
    assert error.max() > 1e-3  # the lengths did change


def _result(tmp_path, frames=40, **extra):
    positions = rigid_motion(frames).astype(np.float32)
    positions -= positions[:, :1]  # root-relative, as `starpose lift` writes
    np.savez(tmp_path / "walk3d.npz", positions_3d=positions, **extra)
    return tmp_path / "walk3d.npz", positions


def test_export_command_keeps_the_frame_rate_and_stands_on_the_floor(tmp_path, capsys):
    path, positions = _result(tmp_path, fps=np.float64(30))
    assert main(["mocap", "export", str(path), "--out", str(tmp_path / "walk.bvh")]) == 0
    clip, back = read_back(tmp_path / "walk.bvh")
    assert clip.fps == pytest.approx(30) and clip.num_frames == 40
    feet = back[:, (3, 6), 1]
    assert feet.min() == pytest.approx(0, abs=1e-6)  # standing on the floor, in place
    assert np.allclose(back[:, 0, (0, 2)], 0)
    (tmp_path / "walk3d.json").write_text(json.dumps({"positions_3d": positions.tolist()}))
    assert main(["mocap", "export", str(tmp_path / "walk3d.json"), "--fps", "24",
                 "--out", str(tmp_path / "walk2.bvh")]) == 0
    assert read_bvh(tmp_path / "walk2.bvh").fps == pytest.approx(24)


def test_first_frame_and_gaps_keep_the_video_timeline(tmp_path, capsys):
    index = np.r_[100:120, 125:145]  # starts at frame 100, 5 frames missing
    path, positions = _result(tmp_path, fps=np.float64(25), frame_index=index)
    assert main(["mocap", "export", str(path), "--out", str(tmp_path / "video.bvh")]) == 0
    assert "from frame 0" in capsys.readouterr().out
    clip, back = read_back(tmp_path / "video.bvh")
    assert clip.num_frames == 145 and clip.fps == pytest.approx(25)
    world = camera_to_bvh(positions)
    world[:, :, 1] -= world[:, (3, 6), 1].min()
    assert np.abs(back[index] - world).max() < 1e-3  # frame n of the BVH is input frame n
    assert np.abs(back[:100] - world[0]).max() < 1e-3  # the first pose held before it
    middle = (world[19] + world[20]) / 2  # frames 119 and 125: 122 lies half way
    assert np.abs(back[122, 0] - middle[0]).max() < 1e-3
    assert main(["mocap", "export", str(path), "--timeline", "clip",
                 "--out", str(tmp_path / "clip.bvh")]) == 0
    assert read_bvh(tmp_path / "clip.bvh").num_frames == 45
    assert "from frame 100" in capsys.readouterr().out


def test_joints_world_give_the_root_its_trajectory(tmp_path, capsys):
    world = camera_to_bvh(rigid_motion(40)).astype(np.float32)  # walks 2 m along x
    world[:, :, 1] -= world[:, (3, 6), 1].min()
    path, _ = _result(tmp_path, fps=np.float64(50), joints_world=world)
    assert main(["mocap", "export", str(path), "--out", str(tmp_path / "walk.bvh")]) == 0
    assert "with its trajectory" in capsys.readouterr().out
    clip, back = read_back(tmp_path / "walk.bvh")
    assert np.abs(back - world).max() < 1e-3
    assert back[-1, 0, 0] - back[0, 0, 0] == pytest.approx(2.0, abs=1e-3)
    assert main(["mocap", "export", str(path), "--no-trajectory",
                 "--out", str(tmp_path / "still.bvh")]) == 0
    _, still = read_back(tmp_path / "still.bvh")
    assert np.allclose(still[:, 0, (0, 2)], 0)


def _refused(tmp_path, capsys, args, name):
    before = sorted(tmp_path.iterdir())
    assert main(["mocap", "export", *map(str, args), "--out", str(tmp_path / "x.bvh")]) == 2
    err = capsys.readouterr().err.strip()
    assert name in err and "\n" not in err and "Traceback" not in err
    assert sorted(tmp_path.iterdir()) == before  # nothing written
    return err


def test_export_refuses_a_result_without_joints(tmp_path, capsys):
    np.savez(tmp_path / "empty.npz", fps=np.float64(30), other=np.zeros(3))
    assert "positions_3d" in _refused(tmp_path, capsys, [tmp_path / "empty.npz"], "empty.npz")


def test_export_refuses_a_humaneva_result(tmp_path, capsys):
    np.savez(tmp_path / "he.npz", positions_3d=np.zeros((30, 15, 3), np.float32),
             fps=np.float64(60))
    err = _refused(tmp_path, capsys, [tmp_path / "he.npz"], "he.npz")
    assert "15 joints" in err and "17" in err


def test_export_refuses_a_result_without_a_frame_rate(tmp_path, capsys):
    path, _ = _result(tmp_path)
    assert "frame rate" in _refused(tmp_path, capsys, [path], path.name)


def test_lifted_joints_bvh_mocap_import_same_joints(tmp_path, capsys):
    """The round trip of the issue: joints -> BVH -> `mocap import` -> the same joints (1 mm),
    in the import's z-up capture-volume world, i.e. up to its floor and centring shift."""
    from starpose.data.safe_pickle import load_npz
    from starpose.data.skeleton import JOINTS_KEPT_FOR_17

    world = camera_to_bvh(rigid_motion(60, seed=5))
    write_bvh(tmp_path / "walk_01.bvh", world, fps=50, camera_coordinates=False)
    assert main(["mocap", "import", str(tmp_path / "walk_01.bvh"), "--out",
                 str(tmp_path / "data"), "--subjects", "S1"]) == 0
    assert "starpose names" in capsys.readouterr().out
    data = load_npz(tmp_path / "data" / "data_3d_h36m.npz")["positions_3d"]
    back = data["S1"]["walk 01"][:, list(JOINTS_KEPT_FOR_17)].astype(np.float64)
    z_up = np.stack([world[..., 0], -world[..., 2], world[..., 1]], axis=-1)
    shift = back[0, 0] - z_up[0, 0]
    assert np.linalg.norm(back - shift - z_up, axis=-1).max() < 1e-3
