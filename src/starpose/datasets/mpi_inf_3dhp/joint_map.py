"""The joint correspondence between the Human3.6M and the MPI-INF-3DHP 17-joint layouts.

Both layouts have 17 joints in different orders and with two differently named points:

=====  ==================  ===================  ============================================
3DHP   3DHP joint          Human3.6M-17 joint    counterpart
=====  ==================  ===================  ============================================
0      head_top            10 Head               same point (top of the head)
1      neck                8 Thorax              same point (base of the neck)
2-4    right sh/el/wrist   14-16                 same points
5-7    left sh/el/wrist    11-13                 same points
8-10   right hip/knee/ank  1-3                   same points
11-13  left hip/knee/ank   4-6                   same points
14     pelvis (root)       0 Hip (root)          same point
15     spine               7 Spine               same point
16     head                9 Neck/Nose           a different point: excluded from the metrics
=====  ==================  ===================  ============================================

The map is a permutation, so a Human3.6M model can be fed 3DHP keypoints (the 3DHP head stands
in for the nose) and its output put in 3DHP order; the metrics of such a cross-dataset
evaluation then leave out the joints in :data:`NO_COUNTERPART`.
"""
from __future__ import annotations

#: For each 3DHP joint (in 3DHP order), the index of the Human3.6M-17 joint in its place.
H36M_FOR_3DHP = (10, 8, 14, 15, 16, 11, 12, 13, 1, 2, 3, 4, 5, 6, 0, 7, 9)
#: For each Human3.6M-17 joint, the index of the 3DHP joint in its place (the inverse map).
MPI_FOR_H36M = tuple(H36M_FOR_3DHP.index(j) for j in range(len(H36M_FOR_3DHP)))
#: 3DHP joints whose Human3.6M counterpart is a different point (3DHP head vs Neck/Nose).
NO_COUNTERPART = (16,)


def h36m_from_3dhp(x):
    """Poses ``(..., 17, C)`` in 3DHP order -> Human3.6M-17 order (numpy or torch)."""
    _check(x)
    return x[..., list(MPI_FOR_H36M), :]


def mpi_from_h36m(x):
    """Poses ``(..., 17, C)`` in Human3.6M-17 order -> 3DHP order (numpy or torch)."""
    _check(x)
    return x[..., list(H36M_FOR_3DHP), :]


def compared_joints(source: str) -> tuple[int, ...]:
    """The 3DHP joints the metrics count for a model trained on ``source`` ("3dhp": all 17,
    "h36m": those with a counterpart)."""
    excluded = NO_COUNTERPART if source == "h36m" else ()
    return tuple(j for j in range(len(H36M_FOR_3DHP)) if j not in excluded)


def _check(x) -> None:
    if x.shape[-2] != len(H36M_FOR_3DHP):
        raise ValueError(f"joint map: expected {len(H36M_FOR_3DHP)} joints, got shape {tuple(x.shape)}")
