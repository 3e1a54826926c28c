"""``.bvh`` animations (:func:`starpose.mocap.write_bvh`): written at the end, from the whole clip
(the bone lengths are medians over it)."""
from __future__ import annotations

import numpy as np

from starpose.lift.writers.base import BlockWriter

class BvhWriter(BlockWriter):
    is_result = False

    def __init__(self, path, meta: dict, num_frames: int, num_joints: int):
        super().__init__(path, meta, num_frames, num_joints)
        self._blocks = []

    def _write(self, poses: np.ndarray) -> None:
        self._blocks.append(poses)

    def _finish(self) -> None:
        from starpose.mocap.timeline import uniform_timeline
        from starpose.mocap.export import write_bvh

        poses = np.concatenate(self._blocks) if self._blocks else np.zeros((0, self.num_joints, 3), np.float32)
        world = self.meta.get("joints_world")
        positions, _ = uniform_timeline(poses if world is None else world,
                                        self.meta.get("frame_index"), "video")
        write_bvh(self.path, positions, self.meta["fps"], camera_coordinates=world is None)
