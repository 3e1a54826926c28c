"""Lifting one 2D keypoint sequence to root-relative 3D with a trained model (arrays in, arrays out).

:func:`lift_keypoints` lifts a whole sequence at once; :func:`stream_keypoints` yields the same
poses in blocks (bounded memory, for long recordings), with any window predictor
(:class:`starpose.inference.predictors.TorchPredictor`, ``starpose.inference.onnx_runtime.OnnxPredictor``). The joints
are those of the model's dataset (:class:`starpose.datasets.registry.Dataset`): Human3.6M's 17 by
default, HumanEva-I's 15 for a HumanEva-I model.
"""
from __future__ import annotations

import numpy as np

from starpose.data.model_input import input_norm_of
from starpose.errors import StarposeError
from starpose.formats import Keypoints2D, to_layout


def result_meta(kp: Keypoints2D) -> dict:
    """Everything of a result but the poses: ``keypoints_2d`` ``(T, J, 2)`` pixels,
    ``confidence`` ``(T, J)``, ``filled`` ``(T, J)`` bool, ``joint_names`` (the model's dataset's),
    ``fps`` (None if unknown), ``image_size`` ``(w, h)``, ``source``, ``source_format``, ``name``,
    ``frame_index`` ``(T,)`` int64 (each frame's number in the input's own numbering, so that
    the result lines up with the video) and ``time_s`` ``(T,)`` (``frame_index / fps``; None
    when the frame rate is unknown). ``kp`` is in the model's joints
    (:func:`starpose.formats.to_layout`)."""
    frame_index = kp.frame_numbers
    return {
        "keypoints_2d": kp.xy.astype(np.float32),
        "confidence": kp.confidence.astype(np.float32),
        "filled": np.zeros(kp.xy.shape[:2], bool) if kp.filled is None else kp.filled,
        "joint_names": list(kp.joint_names),
        "fps": kp.fps,
        "image_size": (float(kp.width), float(kp.height)),
        "source": kp.path,
        "source_format": kp.source_format,
        "name": kp.name,
        "frame_index": frame_index,
        "time_s": frame_index / float(kp.fps) if kp.fps else None,
    }


def normalised_input(kp: Keypoints2D, num_joints: int, norm: str = "screen", *,
                     focal_px: float | None = None, fov: float | None = None) -> np.ndarray:
    """The model's input ``(T, J, 2)`` for a model whose ``input_norm`` is ``norm``
    (:mod:`starpose.data.model_input`): ``"screen"``, pixels scaled to [-1, 1] by the image
    width; ``"box"``, relative to the person's box over the sequence (the image size is not
    needed); ``"rays"`` and ``"view"``, ``(u - c) / f`` with the focal length ``focal_px``, else the one of
    the field of view ``fov`` (degrees, long side), else of the typical one
    (:func:`starpose.world.intrinsics.intrinsics_for`), the principal point at the centre."""
    from starpose.data.model_input import RAY_NORMS, model_input

    where = kp.path or kp.name
    if (norm == "screen" or norm in RAY_NORMS) and (kp.width is None or kp.height is None):
        raise StarposeError(f"{where}: the image size is unknown; cannot normalise")
    if not np.isfinite(kp.xy).all():
        raise StarposeError(f"{where}: keypoints have gaps; run fill_missing first")
    if kp.xy.shape[1] != num_joints:
        raise StarposeError(f"{where}: {kp.xy.shape[1]} joints per frame, but the model lifts {num_joints}")
    focal = None
    if norm in RAY_NORMS:  # the principal point: model_input's default, the image centre
        from starpose.world.intrinsics import intrinsics_for

        focal = intrinsics_for((kp.width, kp.height), focal_px, fov)[:2]
    return model_input(kp.xy.astype(np.float32), norm, (kp.width, kp.height), focal)


def model_dataset(model, dataset=None):
    """``dataset``, else the dataset of the model's joint count (Human3.6M for 17 joints)."""
    from starpose.datasets.registry import DEFAULT_DATASET, dataset_for_joints, get_dataset

    if dataset is not None:
        return dataset
    if getattr(model, "num_joints", None) is None:
        return get_dataset(DEFAULT_DATASET)
    joints = int(model.num_joints)
    found = dataset_for_joints(joints)
    if found is None:
        raise StarposeError(f"the model lifts {joints} joints, the layout of no known dataset")
    return found


def stream_keypoints(predictor, kp: Keypoints2D, *, stride=None, chunk_windows=64, progress=None,
                     root: int = 0, focal_px: float | None = None, fov: float | None = None):
    """Yield ``(first_frame, poses (n, J, 3))`` blocks of ``kp`` lifted by ``predictor``
    (``kp`` already in the model's joints; joint ``root`` set to 0); ``focal_px`` / ``fov``:
    the camera, for a model that takes rays (:func:`normalised_input`)."""
    from starpose.inference.predictors import stream_sequence

    normalised = normalised_input(kp, predictor.num_joints, input_norm_of(predictor),
                                  focal_px=focal_px, fov=fov)
    yield from stream_sequence(predictor, normalised, stride=stride, chunk_windows=chunk_windows,
                               progress=progress, root=root)


def lift_keypoints(model, kp: Keypoints2D, *, flip=True, batch_size=32, device=None, stride=None,
                   dataset=None, focal_px: float | None = None, fov: float | None = None) -> dict:
    """Lift one filled :class:`Keypoints2D` sequence to root-relative 3D, all at once.

    Returns :func:`result_meta` plus ``positions_3d`` ``(T, J, 3)`` float32 (camera coordinates,
    metres, the dataset's root joint at the origin), first. ``model``: a MixSTE model or a window
    predictor; ``dataset``: the :class:`~starpose.datasets.registry.Dataset` whose joints the model
    lifts (default: the one of its joint count, Human3.6M for 17); ``kp`` is put in its joints
    (:func:`starpose.formats.to_layout`) and flip averaging swaps its left and right joints.
    ``stride``: see :func:`starpose.inference.predictors.stream_sequence` (default F/2);
    ``focal_px`` / ``fov``: the camera, for a model that takes rays (:func:`normalised_input`).
    """
    from starpose.inference.predictors import predict_sequence

    dataset = model_dataset(model, dataset)
    kp = to_layout(kp, dataset)
    normalised = normalised_input(kp, int(getattr(model, "num_joints", dataset.num_joints)),
                                  input_norm_of(model), focal_px=focal_px, fov=fov)
    poses = predict_sequence(model, normalised, flip=flip, batch_size=batch_size, device=device,
                             stride=stride, skeleton=dataset.skeleton, zero_root=False)
    poses = np.asarray(poses, dtype=np.float32)
    poses[:, dataset.root] = 0.0
    return {"positions_3d": poses, **result_meta(kp)}
