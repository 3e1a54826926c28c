"""Inference: the model on evaluation windows, with flip averaging in one batched forward.

The published evaluation runs the flipped input as a second forward pass; here the original and
the flipped windows go through the model together, which is the same function at half the
number of kernel launches.
"""
from __future__ import annotations

import contextlib

import numpy as np
import torch

from starpose.data.flip import flip_pose
from starpose.data.windows import eval_windows, reassemble
from starpose.errors import StarposeError


def resolve_device(device: str | torch.device | None = "auto") -> torch.device:
    """``auto`` (or None) picks CUDA when available, else the CPU. An unknown name, or CUDA asked
    for where there is none, is a :class:`StarposeError` naming the device."""
    if device in (None, "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError):
        raise StarposeError(f"device {device}: unknown device (use auto, cpu, cuda or cuda:N)") from None
    if resolved.type not in ("cpu", "cuda"):
        raise StarposeError(f"device {device}: unsupported device (use auto, cpu, cuda or cuda:N)")
    if resolved.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if (resolved.index or 0) >= count:
            raise StarposeError(f"device {device}: no such CUDA device is available"
                                f" ({count} found); use the CPU")
    return resolved


def autocast(device: torch.device, amp: str | None):
    """bf16 autocast on the given device when ``amp == "bf16"``; a no-op context otherwise."""
    if amp in (None, "none", "fp32"):
        return contextlib.nullcontext()
    if amp != "bf16":
        raise ValueError(f"unsupported amp mode {amp!r} (use 'bf16')")
    return torch.autocast(device_type=device.type, dtype=torch.bfloat16)


@torch.inference_mode()
def predict_windows(
    model: torch.nn.Module,
    windows_2d: torch.Tensor,
    flip: bool = True,
    batch_size: int = 64,
    amp: str | None = None,
    skeleton=None,
) -> torch.Tensor:
    """Model output on windows ``(W, F, J, 2)`` -> ``(W, F, J, 3)`` (float32, on the input's device).

    With ``flip`` the output is the mean of the output on the input and the flipped-back output on
    the flipped input. ``batch_size`` counts windows per forward (doubled inside with ``flip``).
    ``skeleton`` gives the left/right joints of the flip (default: Human3.6M's 17 joints).
    """
    flip_with = {} if skeleton is None else {"skeleton": skeleton}
    outputs = []
    for chunk in windows_2d.split(batch_size):
        inputs = torch.cat([chunk, flip_pose(chunk, **flip_with)]) if flip else chunk
        with autocast(chunk.device, amp):
            out = model(inputs).float()
        if flip:
            n = chunk.shape[0]
            out = 0.5 * (out[:n] + flip_pose(out[n:], **flip_with))
        outputs.append(out)
    return torch.cat(outputs)


def predict_sequence(
    model: torch.nn.Module,
    keypoints_2d: np.ndarray,
    *,
    flip: bool = True,
    batch_size: int = 32,
    device: str | torch.device | None = None,
    amp: str | None = None,
    skeleton=None,
) -> np.ndarray:
    """Lift one normalised 2D sequence ``(T, J, 2)`` to root-relative 3D ``(T, J, 3)``.

    Any T >= 1 works: the sequence is cut into evaluation windows of the model's frame count
    (the last aligned to the end, short sequences padded), and every frame is taken once from the
    windows. The root joint is set to 0.
    """
    keypoints_2d = np.asarray(keypoints_2d, dtype=np.float32)
    if keypoints_2d.ndim != 3 or keypoints_2d.shape[0] < 1:
        raise ValueError(f"expected keypoints (T >= 1, J, 2), got shape {keypoints_2d.shape}")
    device = resolve_device(device) if device is not None else next(model.parameters()).device
    frames = model.config.num_frames
    windows = torch.from_numpy(eval_windows(keypoints_2d, frames)).to(device)
    pred = predict_windows(model, windows, flip=flip, batch_size=batch_size, amp=amp, skeleton=skeleton)
    pred = reassemble(pred.cpu().numpy(), keypoints_2d.shape[0])
    pred[:, 0] = 0.0
    return pred
