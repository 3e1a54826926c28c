"""BVH reading: the format's variants, forward kinematics by hand, bad files and a fuzzer.

Also holds :func:`make_bvh`, the small BVH writer the other mocap tests build their clips with.
"""
import numpy as np
import pytest

from starpose.errors import DataError
from starpose.mocap.bvh import parse_bvh, read_bvh
from starpose.mocap.kinematics import euler_to_matrix, forward_kinematics, matrix_to_euler

# A standing body in centimetres, y up, facing +z (its left is +x): (name, parent, offset).
BODY = [
    ("Hips", None, (0, 0, 0)),
    ("LeftUpLeg", "Hips", (10, -5, 0)), ("LeftLeg", "LeftUpLeg", (0, -42, 0)),
    ("LeftFoot", "LeftLeg", (0, -42, 0)),
    ("RightUpLeg", "Hips", (-10, -5, 0)), ("RightLeg", "RightUpLeg", (0, -42, 0)),
    ("RightFoot", "RightLeg", (0, -42, 0)),
    ("Spine", "Hips", (0, 10, 0)), ("Spine1", "Spine", (0, 20, 0)),
    ("Neck", "Spine1", (0, 22, 0)), ("Head", "Neck", (0, 10, 0)),
    ("LeftShoulder", "Spine1", (3, 20, 0)), ("LeftArm", "LeftShoulder", (15, 0, 0)),
    ("LeftForeArm", "LeftArm", (28, 0, 0)), ("LeftHand", "LeftForeArm", (25, 0, 0)),
    ("RightShoulder", "Spine1", (-3, 20, 0)), ("RightArm", "RightShoulder", (-15, 0, 0)),
    ("RightForeArm", "RightArm", (-28, 0, 0)), ("RightHand", "RightForeArm", (-25, 0, 0)),
]
END_SITES = {"Head": (0, 18, 0), "LeftFoot": (0, -5, 12), "RightFoot": (0, -5, 12),
             "LeftHand": (8, 0, 0), "RightHand": (-8, 0, 0)}
ROOT_HEIGHT = 95.0


def make_bvh(motion=None, *, names=None, order="ZXY", all_positions=False, scale=1.0,
             up="y", frames=3, frame_time=0.01, newline="\n", extra=None, end_sites=None):
    """BVH text of :data:`BODY` (bones renamed by ``names``, lengths times ``scale``,
    z-up when ``up == 'z'``). ``motion`` maps a bone to (frames, k) values of its channels
    (positions first when it has them, then rotations in ``order``); the root stands at
    ``ROOT_HEIGHT`` by default. ``extra`` adds (name, parent, offset) joints."""
    names = names or {}
    body = BODY + list(extra or [])
    sites = END_SITES if end_sites is None else end_sites
    motion = dict(motion or {})
    children = {}
    for name, parent, _ in body:
        children.setdefault(parent, []).append(name)
    offsets = {name: np.array(offset, float) * scale for name, _, offset in body}
    if up == "z":
        offsets = {k: np.array([v[0], -v[2], v[1]]) for k, v in offsets.items()}
    lines, columns = ["HIERARCHY"], []

    def emit(name, depth):
        pad = "\t" * depth
        root = depth == 0
        lines.append(f"{pad}{'ROOT' if root else 'JOINT'} {names.get(name, name)}")
        lines.append(pad + "{")
        lines.append(f"{pad}  OFFSET  {'  '.join(f'{v:.4f}' for v in offsets[name])}")
        rot = [f"{axis}rotation" for axis in order]
        chans = (["Xposition", "Yposition", "Zposition"] if root or all_positions else []) + rot
        lines.append(f"{pad}  CHANNELS {len(chans)} {' '.join(chans)}")
        default = np.zeros((frames, len(chans)))
        if root:
            height = ROOT_HEIGHT * scale
            default[:, :3] = [0, height, 0] if up == "y" else [0, 0, height]
        elif all_positions:
            default[:, :3] = offsets[name]
        columns.append(np.asarray(motion.pop(name, default), float).reshape(frames, len(chans)))
        for child in children.get(name, []):
            emit(child, depth + 1)
        if name in sites and not children.get(name):
            site = np.array(sites[name], float) * scale
            site = site if up == "y" else np.array([site[0], -site[2], site[1]])
            lines.extend([f"{pad}  End Site", pad + "  {",
                          f"{pad}    OFFSET {' '.join(f'{v:.4f}' for v in site)}", pad + "  }"])
        lines.append(pad + "}")

    emit("Hips", 0)
    table = np.concatenate(columns, axis=1)
    lines += ["MOTION", f"Frames: {frames}", f"Frame Time: {frame_time}"]
    lines += [" ".join(f"{v:.6f}" for v in row) for row in table]
    return newline.join(lines) + newline


def _index(clip, name):
    return clip.names.index(name)


def test_rest_pose_positions_are_the_summed_offsets():
    clip = parse_bvh(make_bvh())
    pos = forward_kinematics(clip)
    assert clip.num_frames == 3 and clip.fps == pytest.approx(100)
    hips = np.array([0, ROOT_HEIGHT, 0])
    assert pos[0, _index(clip, "LeftFoot")] == pytest.approx(hips + [10, -89, 0])
    assert pos[2, _index(clip, "LeftHand")] == pytest.approx(hips + [3 + 15 + 28 + 25, 50, 0])
    assert pos[1, _index(clip, "Head.End")] == pytest.approx(hips + [0, 80, 0])


@pytest.mark.parametrize("order", ["ZXY", "XYZ", "YZX", "ZYX"])
def test_channel_order_composes_rotations_in_the_listed_order(order):
    # Left hip turned by 30 deg about each axis: R = R_first R_second R_third.
    angles = {"X": 20.0, "Y": -35.0, "Z": 50.0}
    values = np.tile([angles[a] for a in order], (3, 1))
    clip = parse_bvh(make_bvh({"LeftUpLeg": values}, order=order))
    pos = forward_kinematics(clip, [_index(clip, "LeftUpLeg"), _index(clip, "LeftLeg")])
    rot = np.eye(3)
    for axis in order:
        a = np.radians(angles[axis])
        c, s = np.cos(a), np.sin(a)
        rot = rot @ {"X": [[1, 0, 0], [0, c, -s], [0, s, c]], "Y": [[c, 0, s], [0, 1, 0], [-s, 0, c]],
                     "Z": [[c, -s, 0], [s, c, 0], [0, 0, 1]]}[axis]
    assert pos[:, 1] - pos[:, 0] == pytest.approx(np.tile(rot @ [0, -42, 0], (3, 1)))


def test_position_channels_replace_offsets_and_parent_rotations_carry_children():
    # Root turned 90 deg about y: (x, y, z) -> (z, y, -x). Left knee bent 90 deg about x.
    root = np.array([[1, 2, 3, 0, 0, 90]] * 3, float)  # X Y Z position, then Z X Y rotation
    knee = np.array([[0, 90, 0]] * 3, float)
    text = make_bvh({"Hips": root, "LeftLeg": np.c_[np.tile([0, -50, 0], (3, 1)), knee]},
                    all_positions=True, newline="\r\n")
    clip = parse_bvh(text.replace(" ", "  \t"))
    pos = forward_kinematics(clip)
    hip = np.array([1, 2, 3]) + [0, -5, -10]                  # LeftUpLeg (10, -5, 0) turned
    knee_pos = hip + [0, -50, 0]                              # the position channel's length
    foot = knee_pos + [-42, 0, 0]  # Rx(90) (0,-42,0) = (0,0,-42), then the root: (-42,0,0)
    assert pos[0, _index(clip, "LeftUpLeg")] == pytest.approx(hip)
    assert pos[0, _index(clip, "LeftLeg")] == pytest.approx(knee_pos)
    assert pos[0, _index(clip, "LeftFoot")] == pytest.approx(foot)


@pytest.mark.parametrize("order", ["ZXY", "XYZ", "YZX", "XZY", "YXZ", "ZYX"])
def test_euler_round_trip(order):
    rng = np.random.default_rng(0)
    angles = np.c_[rng.uniform(-180, 180, 50), rng.uniform(-89, 89, 50), rng.uniform(-180, 180, 50)]
    assert matrix_to_euler(euler_to_matrix(angles, order), order) == pytest.approx(angles, abs=1e-9)


def test_read_bvh_from_disk(tmp_path):
    path = tmp_path / "walk.bvh"
    path.write_text(make_bvh(frames=5))
    assert read_bvh(path).num_frames == 5


BAD = {
    "missing MOTION": lambda t: t.split("MOTION")[0],
    "fewer values": lambda t: t.rsplit(" ", 1)[0] + "\n",
    "non-numeric": lambda t: t[:-3] + "ab\n",
    "frame count": lambda t: t.replace("Frames: 3", "Frames: 4"),
    "zero frame time": lambda t: t.replace("Frame Time: 0.01", "Frame Time: 0"),
    "unclosed brace": lambda t: t.replace("}\nMOTION", "\nMOTION", 1),
    "bad channel": lambda t: t.replace("Xrotation", "Wrotation", 1),
    "no offset": lambda t: t.replace("OFFSET", "", 1),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_malformed_files_raise_one_line_data_errors(case):
    with pytest.raises(DataError) as info:
        parse_bvh(BAD[case](make_bvh()), "clip.bvh")
    message = str(info.value)
    assert message.startswith("clip.bvh: ") and "\n" not in message


def test_fuzzed_files_load_or_raise_data_error_only():
    rng = np.random.default_rng(1)
    text = make_bvh(frames=4)
    alphabet = list("{} \n\t-.0123456789eEabXYZ:#")
    loaded = 0
    for case in range(400):
        mutated = list(text[: rng.integers(len(text) + 1)] if case % 4 == 0 else text)
        for _ in range(rng.integers(1, 6)):
            if not mutated:
                break
            at = int(rng.integers(len(mutated)))
            action = rng.integers(3)
            if action == 0:
                mutated[at] = alphabet[rng.integers(len(alphabet))]
            elif action == 1:
                del mutated[at]
            else:
                mutated.insert(at, alphabet[rng.integers(len(alphabet))])
        try:
            clip = parse_bvh("".join(mutated), "fuzz.bvh")
        except DataError as err:
            assert "\n" not in str(err)
            continue
        loaded += 1
        assert np.isfinite(forward_kinematics(clip)).all()
    assert 0 < loaded < 400
