"""Skeletons: the :class:`Skeleton` type and the body model that all of starpose shares: the
Human3.6M 32-joint motion-capture layout (the synthetic generator's body) and its 17-joint lifting
layout (the order every 2D reader maps to).

The numbers come from the published calibration/skeleton metadata shipped in
``h36m_metadata.json`` beside this file.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources


@lru_cache(maxsize=1)
def h36m_metadata() -> dict:
    """The shipped Human3.6M metadata (cameras, skeletons, subject splits)."""
    text = resources.files("starpose.data").joinpath("h36m_metadata.json").read_text()
    return json.loads(text)


@dataclass(frozen=True)
class Skeleton:
    """A kinematic tree: ``parents[j]`` is the parent of joint j (-1 for the root)."""

    parents: tuple[int, ...]
    joints_left: tuple[int, ...]
    joints_right: tuple[int, ...]
    names: tuple[str, ...] = ()

    @property
    def num_joints(self) -> int:
        return len(self.parents)

    @property
    def bones(self) -> list[tuple[int, int]]:
        """(parent, child) pairs."""
        return [(p, j) for j, p in enumerate(self.parents) if p >= 0]

    @property
    def flip_permutation(self) -> list[int]:
        """Index map that swaps left and right joints (an involution)."""
        perm = list(range(self.num_joints))
        for left, right in zip(self.joints_left, self.joints_right):
            perm[left], perm[right] = right, left
        return perm


def _skeleton(entry: dict) -> Skeleton:
    return Skeleton(
        parents=tuple(entry["parents"]),
        joints_left=tuple(entry["joints_left"]),
        joints_right=tuple(entry["joints_right"]),
        names=tuple(entry.get("names", ())),
    )


H36M_32 = _skeleton(h36m_metadata()["skeleton_32"])
H36M_17 = _skeleton(h36m_metadata()["skeleton_17"])
#: Indices of the 32-joint layout removed to obtain the 17-joint layout.
JOINTS_REMOVED_FOR_17 = tuple(h36m_metadata()["joints_removed_for_17"])
#: Indices of the 32-joint layout kept in the 17-joint layout, in order.
JOINTS_KEPT_FOR_17 = tuple(j for j in range(32) if j not in set(JOINTS_REMOVED_FOR_17))
H36M_FPS = int(h36m_metadata()["fps"])
