"""Motion capture in and out: BVH clips to Human3.6M-format training sets, results to BVH.

* :mod:`~starpose.mocap.bvh`: the BVH reader (:func:`read_bvh`);
* :mod:`~starpose.mocap.kinematics`: Euler rotations and forward kinematics over all frames;
* :mod:`~starpose.mocap.retarget`: bone names to the 17 Human3.6M joints;
* :mod:`~starpose.mocap.normalize`: units, axes, floor, capture volume, frame rate, 32 joints;
* :mod:`~starpose.mocap.rig`: the Human3.6M cameras or a ring of virtual cameras;
* :mod:`~starpose.mocap.dataset`: the import pipeline (:func:`import_clips`);
* :mod:`~starpose.mocap.export`: positions to a BVH animation (:func:`write_bvh`; a lift result
  file: :mod:`starpose.lift.to_bvh`).
"""
from starpose.mocap.bvh import BvhClip, read_bvh
from starpose.mocap.dataset import import_clips
from starpose.mocap.export import write_bvh

__all__ = ["BvhClip", "import_clips", "read_bvh", "write_bvh"]
