"""Motion in the world: where the lifted person is, on which floor, and when the feet rest.

Pure numpy functions, one idea per module:

* :mod:`~starpose.world.intrinsics`: pinhole intrinsics from a focal length, a field of view or
  the typical one; pixels to rays;
* :mod:`~starpose.world.body`: body proportions (stature, ankle height);
* :mod:`~starpose.world.root_geometric`: the root's camera position from the 2D and the lifted pose;
* :mod:`~starpose.world.floor`: the floor from the feet, the gravity-aligned world on it;
* :mod:`~starpose.world.contacts`: foot contacts (height and speed);
* :mod:`~starpose.world.foot_sliding`: sliding during contact, measured and removed;
* :mod:`~starpose.world.scores`: root error, W-MPJPE and foot sliding for evaluation;
* :mod:`~starpose.world.motion`: all of it for one clip (:func:`world_motion`).
"""
from starpose.world.intrinsics import TYPICAL_FOV_DEG, intrinsics_for
from starpose.world.motion import WORLD_KEYS, world_motion

__all__ = ["TYPICAL_FOV_DEG", "WORLD_KEYS", "intrinsics_for", "world_motion"]
