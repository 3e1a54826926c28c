"""Lifting 2D keypoint sequences to 3D, as a library: what ``starpose lift``/``render`` call.

:mod:`.lifting` (:func:`lift_keypoints`: a :class:`starpose.formats.Keypoints2D` and a model
in, root-relative ``(T, J, 3)`` joints out, ``J`` those of the model's dataset), :mod:`.dataset`
(which dataset's joints: Human3.6M-17, HumanEva-I-15, ...), :mod:`.results` (result files:
``.npz``, ``.json``, ``.csv``) and :mod:`.render` (a result as an animation). Reading the inputs
is :mod:`starpose.formats`; writing several outputs at once is :func:`starpose.io.atomic_files`.
"""
from starpose.lift.lifting import lift_keypoints
from starpose.lift.render import ANIMATION_SUFFIXES, DEFAULT_RENDER_FPS, render_result
from starpose.lift.results import read_ground_truth, read_result, write_result
from starpose.lift.writers import OUTPUT_SUFFIXES, RESULT_SUFFIXES

__all__ = [
    "ANIMATION_SUFFIXES", "DEFAULT_RENDER_FPS", "OUTPUT_SUFFIXES", "RESULT_SUFFIXES", "lift_keypoints",
    "read_ground_truth", "read_result", "render_result", "write_result",
]
