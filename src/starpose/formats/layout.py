"""Keypoints in the joint layout of the lifting model's dataset (Human3.6M-17, HumanEva-I-15, ...).

The detector readers give the Human3.6M 17 joints; a plain array comes in the model's own order.
:func:`to_layout` turns a :class:`Keypoints2D` into the layout of a
:class:`starpose.datasets.registry.Dataset`: names an unnamed array after checking its joint count,
keeps a sequence already in that layout, and selects the dataset's joints out of Human3.6M-17
with the dataset's ``h36m_joints`` (HumanEva-I: pelvis = Hip, thorax = Thorax, head = Head, limbs
one to one). Anything else is one :class:`DataError` naming the file.
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np

from starpose.errors import DataError
from starpose.formats.keypoints import H36M_NAMES, Keypoints2D
from starpose.formats.table import FORMAT_TITLES


def to_layout(kp: Keypoints2D, dataset) -> Keypoints2D:
    """``kp`` in the joints of ``dataset`` (``(T, J, 2)`` with ``J = dataset.num_joints``, named)."""
    names = tuple(dataset.skeleton.names)
    joints = kp.xy.shape[1] if kp.xy.ndim == 3 else 0
    where = kp.path or kp.name
    if not kp.joint_names:
        if joints != dataset.num_joints:
            raise DataError(
                f"{where}: expected keypoints of shape (T, {dataset.num_joints}, 2) or "
                f"(T, {dataset.num_joints}, 3) in {dataset.title} joint order "
                f"({', '.join(names)}), got {joints} joints"
            )
        return replace(kp, joint_names=names)
    if tuple(kp.joint_names) == names:
        return kp
    if tuple(kp.joint_names) == H36M_NAMES and dataset.h36m_joints is not None:
        return _select(kp, dataset.h36m_joints, names)
    title = FORMAT_TITLES.get(kp.source_format, kp.source_format)
    raise DataError(
        f"{where}: this {title} gives {len(kp.joint_names)} joints ({', '.join(kp.joint_names[:4])}, "
        f"...) with no map to the {dataset.num_joints} {dataset.title} joints the model lifts; "
        f"give a (T, {dataset.num_joints}, 2) array in {dataset.title} order"
    )


def _select(kp: Keypoints2D, joints, names) -> Keypoints2D:
    """The joints ``joints`` (indices into ``kp``'s) of every per-joint array of ``kp``."""
    pick = list(joints)
    filled = None if kp.filled is None else np.asarray(kp.filled)[:, pick]
    return replace(kp, xy=kp.xy[:, pick], confidence=kp.confidence[:, pick], filled=filled,
                   joint_names=tuple(names))
