"""BVH export: round trips through the reader, continuity of the angles, the command, and a
real client (Blender imports the file and its bones sit where starpose put the joints)."""
import json
import shutil
import subprocess
import sys

import numpy as np
import pytest

from starpose.cli import main
from starpose.data.skeleton import H36M_17
from starpose.mocap.bvh import read_bvh
from starpose.mocap.export import BVH_NAMES, bone_lengths, camera_to_bvh, write_bvh
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


def _read_back(path):
    clip = read_bvh(path)
    order = [clip.names.index(name) for name in BVH_NAMES]
    return clip, forward_kinematics(clip, order)


def test_constant_bone_lengths_round_trip_within_a_millimetre(tmp_path):
    positions = rigid_motion()
    write_bvh(tmp_path / "walk.bvh", positions, fps=50)
    clip, back = _read_back(tmp_path / "walk.bvh")
    assert clip.frame_time == pytest.approx(0.02) and clip.num_frames == len(positions)
    error = np.linalg.norm(back - camera_to_bvh(positions), axis=-1)
    assert error.max() < 1e-3
    angles = clip.motion[:, 3:]
    assert np.abs(np.diff(angles, axis=0)).max() < 30  # unwrapped: no 360-degree flips
    yaw = clip.motion[:, clip.channels[0].index("Yrotation")]
    assert np.ptp(yaw) > 600  # the root's yaw keeps growing over two turns


def test_varying_bone_lengths_round_trip_within_the_length_change(tmp_path):
    rng = np.random.default_rng(1)
    frames = 60
    scale = 1 + 0.04 * np.sin(np.linspace(0, 6, frames)[:, None] + rng.uniform(0, 6, (1, 17)))
    # Left and right bones change together, so the hip and shoulder lines keep their
    # directions (the pelvis and chest frames are built from them).
    scale[:, list(H36M_17.joints_left)] = scale[:, list(H36M_17.joints_right)]
    positions = rigid_motion(frames, seed=1, lengths=scale)
    write_bvh(tmp_path / "walk.bvh", positions, fps=25)
    _, back = _read_back(tmp_path / "walk.bvh")
    world = camera_to_bvh(positions)
    written = bone_lengths(world)
    actual = np.linalg.norm(REST, axis=-1) * scale
    bound = np.zeros((frames, 17))
    for j, parent in enumerate(PARENTS[1:], start=1):
        bound[:, j] = bound[:, parent] + np.abs(written[j] - actual[:, j])
    error = np.linalg.norm(back - world, axis=-1)
    assert (error <= bound + 1e-3).all()
    assert error.max() > 1e-3  # the lengths did change


def test_export_command_from_a_lift_result(tmp_path, capsys):
    positions = rigid_motion(40).astype(np.float32)
    positions -= positions[:, :1]  # root-relative, as `starpose lift` writes
    np.savez(tmp_path / "walk3d.npz", positions_3d=positions, fps=np.float64(30))
    assert main(["mocap", "export", str(tmp_path / "walk3d.npz"),
                           "--out", str(tmp_path / "walk.bvh")]) == 0
    clip, back = _read_back(tmp_path / "walk.bvh")
    assert clip.fps == pytest.approx(30)
    feet = back[:, (3, 6), 1]
    assert feet.min() == pytest.approx(0, abs=1e-6)  # standing on the floor, in place
    assert np.allclose(back[:, 0, (0, 2)], 0)
    (tmp_path / "walk3d.json").write_text(json.dumps({"positions_3d": positions.tolist()}))
    assert main(["mocap", "export", str(tmp_path / "walk3d.json"), "--fps", "24",
                           "--out", str(tmp_path / "walk2.bvh")]) == 0
    assert read_bvh(tmp_path / "walk2.bvh").fps == pytest.approx(24)


def test_export_refuses_a_result_without_joints(tmp_path, capsys):
    np.savez(tmp_path / "empty.npz", fps=np.float64(30), other=np.zeros(3))
    assert main(["mocap", "export", str(tmp_path / "empty.npz"),
                           "--out", str(tmp_path / "x.bvh")]) == 2
    err = capsys.readouterr().err.strip()
    assert "empty.npz" in err and "positions_3d" in err and "\n" not in err
    assert list(tmp_path.iterdir()) == [tmp_path / "empty.npz"]


BLENDER_SCRIPT = """
import builtins, json, sys
import bpy
from io_anim_bvh import import_bvh
# Blender 3.4's importer opens files with mode 'rU', which Python 3.11 removed; give that
# module an open() that drops the 'U' (the file is then read exactly the same way).
import_bvh.open = lambda file, mode="r", *args, **kw: builtins.open(
    file, mode.replace("U", ""), *args, **kw)
bvh, out = sys.argv[sys.argv.index("--") + 1:]
bpy.ops.import_anim.bvh(filepath=bvh, axis_forward="-Z", axis_up="Y", global_scale=1.0,
                        rotate_mode="NATIVE", use_fps_scale=False)
arm = next(o for o in bpy.context.scene.objects if o.type == "ARMATURE")
heads = {}
for frame in (1, 17, 40):
    bpy.context.scene.frame_set(frame)
    heads[frame] = {b.name: list(arm.matrix_world @ b.head) for b in arm.pose.bones}
json.dump(heads, open(out, "w"))
"""


@pytest.mark.skipif(shutil.which("blender") is None, reason="Blender is not installed")
def test_blender_imports_the_file_with_the_joints_where_starpose_put_them(tmp_path):
    positions = rigid_motion(40, seed=2)
    write_bvh(tmp_path / "walk.bvh", positions, fps=50)
    (tmp_path / "dump.py").write_text(BLENDER_SCRIPT)
    subprocess.run(["blender", "-b", "--factory-startup", "--python-exit-code", "1",
                    "--python", str(tmp_path / "dump.py"),
                    "--", str(tmp_path / "walk.bvh"), str(tmp_path / "heads.json")],
                   check=True, capture_output=True, timeout=120)
    heads = json.loads((tmp_path / "heads.json").read_text())
    world = camera_to_bvh(positions)
    for frame, bones in heads.items():
        expected = world[int(frame) - 1]
        # Blender is z up: BVH (x, y, z) -> (x, -z, y).
        blender = np.stack([expected[:, 0], -expected[:, 2], expected[:, 1]], axis=-1)
        got = np.array([bones[name] for name in BVH_NAMES])
        assert np.linalg.norm(got - blender, axis=-1).max() < 1e-3, frame
