"""The bones of the BVH that ``starpose mocap export`` writes: hierarchy, T-pose and names.

Every Human3.6M bone (parent joint -> child joint) is oriented by exactly one BVH joint, the
only one of its BVH children with a non-zero offset. The two Human3.6M joints with several
children (the pelvis and the thorax) therefore get zero-length BVH joints, one per child bone
(the hip joints, the lower back, the neck base and the collars), so every bone has its own
rotation and its direction is reproduced exactly.

Each row of :data:`BONES` is ``(key, joint, parent, bone, reference)``:

* ``joint``: the Human3.6M joint (index into the 17) where the BVH joint sits;
* ``parent``: the row of the BVH parent (-1 for the root);
* ``bone``: the Human3.6M bone ``(a, b)`` this BVH joint turns, or ``None`` (a frame joint:
  the root's pelvis frame, the chest frame; or a leaf, which keeps its parent's rotation);
* ``reference``: the twist reference, ``("vec", (c, d))`` for ``p[d] - p[c]`` or
  ``("hinge", (a, b, c))`` for the normal of the limb's plane ``(p[b]-p[a]) x (p[c]-p[b])``.

:data:`T_POSE` gives each row's rest directions in the BVH world (y up, facing +z, the
figure's left is +x): the bone (or the frame's first axis) and the twist reference. The rest
pose is the T-pose: legs straight down, spine and neck straight up, arms straight out
sideways, knees bending backwards and elbows forwards about those references.
"""
from __future__ import annotations

X, Y = (1.0, 0.0, 0.0), (0.0, 1.0, 0.0)
NX, NY = (-1.0, 0.0, 0.0), (0.0, -1.0, 0.0)

_HIP_LINE, _SPINE, _SHOULDERS, _NECK = ("vec", (1, 4)), ("vec", (0, 7)), ("vec", (14, 11)), \
    ("vec", (8, 9))

#: (key, joint, parent row, bone, reference); parents precede children.
BONES = (
    ("hips", 0, -1, None, ("frame", (_HIP_LINE, _SPINE))),
    ("rhip_root", 0, 0, (0, 1), _SPINE),
    ("rhip", 1, 1, (1, 2), ("hinge", (1, 2, 3))),
    ("rknee", 2, 2, (2, 3), ("hinge", (1, 2, 3))),
    ("rfoot", 3, 3, None, None),
    ("lhip_root", 0, 0, (0, 4), _SPINE),
    ("lhip", 4, 5, (4, 5), ("hinge", (4, 5, 6))),
    ("lknee", 5, 6, (5, 6), ("hinge", (4, 5, 6))),
    ("lfoot", 6, 7, None, None),
    ("spine_root", 0, 0, (0, 7), _HIP_LINE),
    ("spine", 7, 9, (7, 8), _SHOULDERS),
    ("thorax", 8, 10, None, ("frame", (_SHOULDERS, _NECK))),
    ("neck_root", 8, 11, (8, 9), _SHOULDERS),
    ("nose", 9, 12, (9, 10), _SHOULDERS),
    ("head", 10, 13, None, None),
    ("lcollar", 8, 11, (8, 11), _NECK),
    ("lshoulder", 11, 15, (11, 12), ("hinge", (11, 12, 13))),
    ("lelbow", 12, 16, (12, 13), ("hinge", (11, 12, 13))),
    ("lwrist", 13, 17, None, None),
    ("rcollar", 8, 11, (8, 14), _NECK),
    ("rshoulder", 14, 19, (14, 15), ("hinge", (14, 15, 16))),
    ("relbow", 15, 20, (15, 16), ("hinge", (14, 15, 16))),
    ("rwrist", 16, 21, None, None),
)

#: Row key -> (bone or first frame axis, twist reference) at rest, BVH world.
T_POSE = {
    "hips": (X, Y), "rhip_root": (NX, Y), "rhip": (NY, X), "rknee": (NY, X),
    "lhip_root": (X, Y), "lhip": (NY, X), "lknee": (NY, X), "spine_root": (Y, X),
    "spine": (Y, X), "thorax": (X, Y), "neck_root": (Y, X), "nose": (Y, X),
    "lcollar": (X, Y), "lshoulder": (X, NY), "lelbow": (X, NY),
    "rcollar": (NX, Y), "rshoulder": (NX, Y), "relbow": (NX, Y),
}

#: End Sites after the leaves, in metres in the leaf's rest frame: the feet point forward,
#: the wrists and the top of the head continue their bones.
END_SITES = {"rfoot": (0.0, 0.0, 0.12), "lfoot": (0.0, 0.0, 0.12), "head": (0.0, 0.06, 0.0),
             "lwrist": (0.06, 0.0, 0.0), "rwrist": (-0.06, 0.0, 0.0)}

#: Bone names per naming convention (the table in docs/mocap.md).
NAMES = {
    "starpose": {
        "hips": "Hip", "rhip_root": "RHipRoot", "rhip": "RHip", "rknee": "RKnee",
        "rfoot": "RFoot", "lhip_root": "LHipRoot", "lhip": "LHip", "lknee": "LKnee",
        "lfoot": "LFoot", "spine_root": "SpineRoot", "spine": "Spine", "thorax": "Thorax",
        "neck_root": "NeckRoot", "nose": "Neck_Nose", "head": "Head", "lcollar": "LCollar",
        "lshoulder": "LShoulder", "lelbow": "LElbow", "lwrist": "LWrist",
        "rcollar": "RCollar", "rshoulder": "RShoulder", "relbow": "RElbow", "rwrist": "RWrist",
    },
    "mixamo": {
        "hips": "Hips", "rhip_root": "RightHipJoint", "rhip": "RightUpLeg",
        "rknee": "RightLeg", "rfoot": "RightFoot", "lhip_root": "LeftHipJoint",
        "lhip": "LeftUpLeg", "lknee": "LeftLeg", "lfoot": "LeftFoot", "spine_root": "Spine",
        "spine": "Spine1", "thorax": "Spine2", "neck_root": "Neck", "nose": "Head",
        "head": "HeadTop_End", "lcollar": "LeftShoulder", "lshoulder": "LeftArm",
        "lelbow": "LeftForeArm", "lwrist": "LeftHand", "rcollar": "RightShoulder",
        "rshoulder": "RightArm", "relbow": "RightForeArm", "rwrist": "RightHand",
    },
}
#: Prefix of every bone name per convention (Mixamo's rigs name bones ``mixamorig:Hips``).
PREFIX = {"starpose": "", "mixamo": "mixamorig:"}


def bone_names(naming: str) -> tuple[str, ...]:
    """The BVH joint names of :data:`BONES` in ``naming`` (ValueError for an unknown one)."""
    if naming not in NAMES:
        raise ValueError(f"naming must be one of {', '.join(NAMES)}, got {naming!r}")
    return tuple(PREFIX[naming] + NAMES[naming][row[0]] for row in BONES)


def joint_rows() -> tuple[int, ...]:
    """For each of the 17 Human3.6M joints, the row of the BVH joint whose head sits there and
    carries its name (the first row at that joint, zero-length ones come after)."""
    rows = {}
    for index, (_, joint, *_rest) in enumerate(BONES):
        rows.setdefault(joint, index)
    return tuple(rows[j] for j in range(17))
