"""ONNX export of a MixSTE model: :func:`export_onnx`.

The graph takes normalised 2D keypoints ``keypoints_2d`` ``(batch, F, J, 2)`` float32 and gives
root-relative 3D joints ``joints_3d`` ``(batch, F, J, 3)``; the batch dimension is dynamic, the
frame count is the model's (Star-Attention's ``Wa`` is per frame). With ``flip=True`` the graph
also runs the mirrored input and returns the flip average, as ``predict_windows`` does.

The file carries its metadata as ONNX ``metadata_props`` (all strings): ``starpose_version``,
``joints``, ``frames``, ``attention``, ``dataset``, ``flip_in_graph`` and the flip permutation
(``flip_permutation``, comma-separated: the left/right pairs of the model's dataset, HumanEva-I's
for a 15-joint model), so that a reader can flip in numpy when the graph does not. Export traces the model with the ``reference`` attention kernel (plain operators that
every runtime has) and writes atomically.
"""
from __future__ import annotations

import io
import os
import warnings
from pathlib import Path

import torch
from torch import nn

from starpose import __version__
from starpose.data.flip import flip_pose
from starpose.io import atomic_path

INPUT_NAME, OUTPUT_NAME = "keypoints_2d", "joints_3d"
DEFAULT_OPSET = 17
#: Opsets the installed (TorchScript-based) exporter writes for this model: LayerNormalization
#: exists from 17 on and is decomposed below; under 14 the decomposition is not available.
MIN_OPSET = 14
MAX_OPSET = int(getattr(torch.onnx._constants, "ONNX_TORCHSCRIPT_EXPORTER_MAX_OPSET", 20))


class FlipAveraged(nn.Module):
    """``0.5 * (model(x) + flip(model(flip(x))))`` in one batched forward: ``(B, F, J, 2)`` ->
    ``(B, F, J, 3)``, flipping with ``skeleton``'s left/right joints."""

    def __init__(self, model: nn.Module, skeleton):
        super().__init__()
        self.model, self.skeleton = model, skeleton

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n = x.shape[0]
        out = self.model(torch.cat([x, flip_pose(x, self.skeleton)]))
        return 0.5 * (out[:n] + flip_pose(out[n:], self.skeleton))


def model_skeleton(model, dataset: str | None = None):
    """The skeleton whose left/right joints flip ``model``'s poses: that of ``dataset`` when it is
    a known name, else of the dataset of the model's joint count; ValueError when there is none."""
    from starpose.datasets.registry import dataset_for_joints, dataset_names, get_dataset

    joints = model.config.num_joints
    found = get_dataset(dataset) if dataset in dataset_names() else dataset_for_joints(joints)
    if found is None or found.num_joints != joints:
        raise ValueError(f"no known skeleton of {joints} joints to flip the poses with")
    return found.skeleton


def check_opset(opset: int) -> int:
    """``opset`` if the installed exporter can write it, else a ValueError naming the range."""
    if not MIN_OPSET <= opset <= MAX_OPSET:
        raise ValueError(f"opset {opset} cannot be written by the installed exporter "
                         f"(torch {torch.__version__}): use {MIN_OPSET} to {MAX_OPSET}")
    return opset


def export_metadata(model, flip: bool, dataset: str | None = None) -> dict[str, str]:
    """The metadata written into the file (strings)."""
    cfg = model.config
    return {
        "producer": "starpose", "starpose_version": __version__, "joints": str(cfg.num_joints),
        "frames": str(cfg.num_frames), "attention": cfg.attention, "dataset": dataset or "unknown",
        "flip_in_graph": "1" if flip else "0",
        "flip_permutation": ",".join(map(str, model_skeleton(model, dataset).flip_permutation)),
    }


def export_onnx(model, path: str | os.PathLike, frames: int | None = None, opset: int = DEFAULT_OPSET,
                flip: bool = False, metadata: dict | None = None) -> Path:
    """Write ``model`` (a :class:`~starpose.models.MixSTE`) as ONNX to ``path``; returns the path.

    ``frames`` (default: the model's) must equal the model's frame count; ``metadata`` entries
    (``dataset``, anything else) are added to :func:`export_metadata`'s. ValueError for a
    frame count or an opset that cannot be written; nothing is written then.
    """
    import onnx  # the exporter's own dependency; only needed here

    cfg = model.config
    if frames is not None and frames != cfg.num_frames:
        raise ValueError(f"the model takes {cfg.num_frames} frames, not {frames} (the frame count is fixed)")
    check_opset(opset)
    props = export_metadata(model, flip, (metadata or {}).get("dataset"))
    props.update({k: str(v) for k, v in (metadata or {}).items()})
    graph = _traced_bytes(model, flip, opset, model_skeleton(model, props["dataset"]))
    proto = onnx.load_from_string(graph)
    onnx.helper.set_model_props(proto, props)
    with atomic_path(path, suffix=None) as tmp:
        onnx.save(proto, str(tmp))
    return Path(path)


def _traced_bytes(model, flip: bool, opset: int, skeleton) -> bytes:
    """The ONNX graph of ``model`` (optionally flip-averaged), traced with the reference kernel."""
    cfg = model.config
    kernel, was_training = cfg.attention_kernel, model.training
    model.set_attention_kernel("reference").eval()
    example = torch.zeros(2, cfg.num_frames, cfg.num_joints, cfg.in_chans)
    buffer = io.BytesIO()
    try:
        with warnings.catch_warnings(), torch.no_grad():
            # The tracer warns about the Python-level shape checks, which hold for every batch.
            warnings.simplefilter("ignore")
            torch.onnx.export(
                FlipAveraged(model, skeleton) if flip else model, (example,), buffer, dynamo=False,
                opset_version=opset, input_names=[INPUT_NAME], output_names=[OUTPUT_NAME],
                dynamic_axes={INPUT_NAME: {0: "batch"}, OUTPUT_NAME: {0: "batch"}},
            )
    finally:
        model.set_attention_kernel(kernel).train(was_training)
    return buffer.getvalue()


__all__ = ["export_onnx", "export_metadata", "check_opset", "model_skeleton", "FlipAveraged", "INPUT_NAME",
           "OUTPUT_NAME", "DEFAULT_OPSET", "MIN_OPSET", "MAX_OPSET"]
