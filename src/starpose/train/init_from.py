"""Starting a training run from a trained model (fine-tuning): :func:`initial_weights`.

The run's own model (its preset, the dataset's joints) must fit the checkpoint: the same joint
count, frame count and tensor shapes. Only the weights are taken: the optimiser starts fresh
and the schedule is the run's own. The run takes the checkpoint's input normalisation
(:mod:`starpose.data.model_input`) unless it names one: a run that names another one retrains
the weights on the new input (the bundled recipe moves the first bundled model, trained on
``screen`` input, to ``view`` input this way).
"""
from __future__ import annotations

import os
from pathlib import Path

from starpose.errors import CheckpointError

#: Leading bytes of an ONNX file (a protobuf whose first field is ``ir_version``, tag 0x08).
_ONNX_SUFFIXES = (".onnx", ".ort")


def initial_weights(path: str | os.PathLike, num_joints: int, num_frames: int,
                    input_norm: str | None = None) -> tuple[dict, str]:
    """``(state_dict, input_norm)`` of the checkpoint ``path`` (``"bundled"``, a starpose or a
    published one) for a model of ``num_joints`` joints and ``num_frames`` frames; ``input_norm``:
    the one the run asks for (None: the checkpoint's). One-line :class:`CheckpointError` for an
    ONNX file, a file that is no checkpoint, another joint or frame count."""
    from starpose.models.checkpoints import checkpoint_state, infer_config, read_checkpoint

    if Path(str(path)).suffix.lower() in _ONNX_SUFFIXES or _looks_like_onnx(path):
        raise CheckpointError(f"{path}: an ONNX export holds no trainable weights; start from the "
                              "PyTorch checkpoint it was exported from")
    data = read_checkpoint(path)
    state, config = checkpoint_state(data, path)
    try:
        config = config or infer_config(state)
    except (KeyError, ValueError, IndexError, AttributeError) as err:
        raise CheckpointError(f"{path}: not a MixSTE checkpoint ({err})") from None
    if config.num_joints != num_joints:
        raise CheckpointError(f"{path}: the checkpoint lifts {config.num_joints} joints, the run's "
                              f"model {num_joints}")
    if config.num_frames != num_frames:
        raise CheckpointError(f"{path}: the checkpoint takes {config.num_frames} frames, the run's "
                              f"model {num_frames} (pick the preset of its size)")
    return state, input_norm or config.input_norm


def _looks_like_onnx(path) -> bool:
    """An ONNX protobuf (whatever its name): it starts with field 1 ``ir_version`` (0x08) and
    names its producer early; a PyTorch checkpoint is a zip (``PK``) or a pickle (0x80)."""
    try:
        with open(path, "rb") as fp:
            head = fp.read(64)
    except OSError:
        return False
    return head[:1] == b"\x08" and b"\x12" in head[:8]
