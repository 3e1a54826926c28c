"""The model's 2D input: how a sequence's keypoints are normalised before lifting.

A model's configuration names one of three normalisations (``MixSTEConfig.input_norm``, stored
in every starpose checkpoint; published-layout checkpoints are ``"screen"``):

* ``"screen"``: the published one, pixels scaled to [-1, 1] by the image width
  (``x / w * 2 - [1, h / w]``); it depends on the image size and on where the person stands;
* ``"box"``: relative to the person, one similarity transform per sequence: minus the mean over
  frames of the keypoints' box centre, divided by :data:`BOX_SCALE` times the median over frames
  of the keypoints' RMS distance from their mean. A person filmed at any resolution, aspect
  ratio or place in the image gives the same input (the transform cancels any scale and shift);
  movement within the sequence (walking towards the camera, across the image) is kept;
* ``"rays"``: intrinsics-normalised image coordinates ``(u - c) / f`` (the tangent of the ray's
  angle, lens distortion ignored): the same for one camera at any resolution, and it keeps the
  perspective of where in the image the person is; it needs the focal length;
* ``"view"``: the same rays; the model turns them to a camera aimed at the person and its output
  back (:mod:`starpose.models.view_frame`), so here it is ``"rays"``.

Every function takes a sequence ``(T, J, 2)`` (numpy) and returns float32 ``(T, J, 2)``.
"""
from __future__ import annotations

import numpy as np

#: The normalisations that feed the model camera rays (they need the focal length).
RAY_NORMS = ("rays", "view")

#: The box input's unit: this many RMS radii of the body (a standing person is about 3.5-4 RMS
#: radii tall, so the body spans about [-0.6, 0.6]).
BOX_SCALE = 3.0


def screen_input(pixels: np.ndarray, width: float, height: float) -> np.ndarray:
    """``"screen"``: pixels ``(T, J, 2)`` scaled to [-1, 1] by the image width (computed in
    float32, exactly as the published pipeline and earlier starpose versions did)."""
    from starpose.data.cameras import normalize_screen_coordinates

    return normalize_screen_coordinates(np.asarray(pixels, np.float32), width, height).astype(np.float32)


def box_input(points: np.ndarray) -> np.ndarray:
    """``"box"``: 2D points ``(T, J, 2)`` (pixels or any similarity of them) relative to the
    person: centred on the mean box centre, scaled by :data:`BOX_SCALE` x the median RMS radius."""
    points = np.asarray(points, np.float64)
    centre = ((points.max(1) + points.min(1)) / 2).mean(0)
    radius = np.sqrt(((points - points.mean(1, keepdims=True)) ** 2).sum(-1).mean(-1))
    scale = BOX_SCALE * max(float(np.median(radius)), 1e-9)
    return ((points - centre) / scale).astype(np.float32)


def ray_input(pixels: np.ndarray, focal: np.ndarray, centre: np.ndarray) -> np.ndarray:
    """``"rays"``: pixels ``(T, J, 2)`` to ``(u - c) / f`` with the focal lengths ``focal``
    (2,) and principal point ``centre`` (2,) in pixels."""
    pixels = np.asarray(pixels, np.float64)
    return ((pixels - np.asarray(centre, np.float64)) / np.asarray(focal, np.float64)).astype(np.float32)


def model_input(pixels: np.ndarray, norm: str, size: tuple[float, float],
                focal=None, centre=None) -> np.ndarray:
    """The input ``(T, J, 2)`` float32 of a model whose ``input_norm`` is ``norm`` for the
    keypoints ``pixels`` ``(T, J, 2)`` of an image of ``size`` (width, height); ``focal`` and
    ``centre`` (2,) are needed for :data:`RAY_NORMS` (``centre`` defaults to the image centre)."""
    if norm == "screen":
        return screen_input(pixels, *size)
    if norm == "box":
        return box_input(pixels)
    if norm in RAY_NORMS:
        if focal is None:
            raise ValueError("the 'rays' input needs the camera's focal length")
        centre = np.asarray(size, np.float64) / 2 if centre is None else centre
        return ray_input(pixels, np.broadcast_to(np.asarray(focal, np.float64), (2,)), centre)
    raise ValueError(f"unknown input normalisation {norm!r}")


def sequence_input(sequence, norm: str):
    """A dataset :class:`~starpose.data.h36m.Sequence` whose ``keypoints_2d`` (``"screen"``, as
    loaded) are renormalised to ``norm`` with the sequence's camera (the same object for
    ``"screen"``)."""
    if norm == "screen":
        return sequence
    from dataclasses import replace

    from starpose.data.cameras import image_coordinates  # here: data.cameras imports torch, --help must not

    camera = sequence.camera
    size = (camera.res_w, camera.res_h)
    pixels = image_coordinates(np.asarray(sequence.keypoints_2d, np.float64), *size)
    kp = model_input(pixels, norm, size, camera.focal_length, camera.center)
    return replace(sequence, keypoints_2d=kp)


def input_norm_of(model) -> str:
    """The ``input_norm`` of a model, a wrapped (DDP, compiled) one or a window predictor
    (``"screen"`` when it names none)."""
    for attr in ("module", "_orig_mod", "model"):
        if not hasattr(model, "input_norm") and hasattr(model, attr):
            model = getattr(model, attr)
    norm = getattr(model, "input_norm", "screen")
    return norm if isinstance(norm, str) else "screen"


def sequences_input(sequences: list, norm: str) -> list:
    """:func:`sequence_input` of every sequence."""
    return sequences if norm == "screen" else [sequence_input(s, norm) for s in sequences]
