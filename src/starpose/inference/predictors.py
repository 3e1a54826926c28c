"""Inference: the model on windows, with flip averaging in one batched forward, and whole
sequences lifted through overlapping windows in bounded memory.

The published evaluation runs the flipped input as a second forward pass; here the original and
the flipped windows go through the model together, which is the same function at half the
number of kernel launches.

Sequences (:func:`predict_sequence`, :func:`stream_sequence`) are cut into windows of F frames
starting every ``stride`` frames (the last one ends on the last frame). Each frame's prediction
is the weighted mean of the windows covering it, with the Hann weight
``w(o) = sin^2(pi (o + 0.5) / F)`` at offset ``o`` in the window: near 1 in the middle, near 0 at
the edges, where a window sees only one side of the motion. At ``stride = F/2`` the weights of the
two covering windows sum to 1 (a cross-fade). ``stride >= F`` is the non-overlapping scheme of
the evaluation protocol (:func:`starpose.data.windows.eval_windows`: each frame from one window).
Window predictions come from a *window predictor*: any callable ``(B, F, J, 2) float32 numpy ->
(B, F, J, 3)`` flip-averaged predictions with ``.frames`` and ``.num_joints``
(:class:`TorchPredictor` here; ``starpose.inference.onnx_runtime.OnnxPredictor`` for ONNX Runtime).
"""
from __future__ import annotations

import contextlib

import numpy as np
import torch

from starpose.data.flip import flip_pose
from starpose.data.windows import eval_window_starts
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
    """bf16 autocast on the given device when ``amp == "bf16"``; a no-op context otherwise.

    On a CPU without native bf16 (:mod:`starpose.inference.cpu_features`) it warns once that bf16 is
    emulated there."""
    if amp in (None, "none", "fp32"):
        return contextlib.nullcontext()
    if amp != "bf16":
        raise ValueError(f"unsupported amp mode {amp!r} (use 'bf16')")
    if device.type == "cpu":
        from starpose.inference.cpu_features import warn_if_emulated

        warn_if_emulated()  # never emulate silently
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


class TorchPredictor:
    """Window predictor of a PyTorch model: ``(B, F, J, 2)`` numpy -> ``(B, F, J, 3)`` numpy."""

    def __init__(self, model: torch.nn.Module, *, flip: bool = True, batch_size: int = 32,
                 device: str | torch.device | None = None, amp: str | None = None, skeleton=None):
        self.device = resolve_device(device) if device is not None else next(model.parameters()).device
        self.model, self.flip, self.batch_size, self.amp = model, flip, batch_size, amp
        self.skeleton = skeleton  # left/right joints of the flip (None: Human3.6M's)
        self.frames = int(model.config.num_frames)
        self.num_joints = int(model.config.num_joints)

    def __call__(self, windows: np.ndarray) -> np.ndarray:
        x = torch.from_numpy(np.ascontiguousarray(windows, dtype=np.float32)).to(self.device)
        out = predict_windows(self.model, x, flip=self.flip, batch_size=self.batch_size, amp=self.amp,
                              skeleton=self.skeleton)
        return out.cpu().numpy()


def window_starts(length: int, frames: int, stride: int) -> np.ndarray:
    """Window starts for a sequence of ``length`` frames: ``0, stride, 2 stride, ...`` while a
    window fits, then one ending on the last frame; ``[0]`` when ``length <= frames``.
    ``stride >= frames`` gives the evaluation protocol's non-overlapping starts."""
    if stride < 1:
        raise ValueError(f"stride must be >= 1, got {stride}")
    if stride >= frames or length <= frames:
        return eval_window_starts(length, frames)
    starts = np.arange(0, length - frames + 1, stride, dtype=np.int64)
    if starts[-1] != length - frames:
        starts = np.append(starts, length - frames)
    return starts


def hann_weights(frames: int) -> np.ndarray:
    """``sin^2(pi (o + 0.5) / F)`` for offsets ``o = 0 .. F-1`` ``(F,)`` float64, all > 0."""
    return np.sin(np.pi * (np.arange(frames) + 0.5) / frames) ** 2


def window_weights(starts: np.ndarray, index: int, frames: int, stride: int) -> np.ndarray:
    """Weights ``(F,)`` of window ``index`` (of ``starts``) for the frames it covers.

    Overlapping windows: :func:`hann_weights`. Non-overlapping (``stride >= frames``): 1 for the
    frames the window owns and 0 where the end window overlaps the window before, so that each
    frame is taken once, as :func:`starpose.data.windows.reassemble` takes it."""
    if stride < frames and len(starts) > 1:
        return hann_weights(frames)
    weights = np.ones(frames)
    if index == len(starts) - 1 and index > 0:
        weights[: index * frames - int(starts[index])] = 0.0
    return weights


def stream_sequence(predictor, keypoints_2d, *, stride: int | None = None, chunk_windows: int = 64,
                    progress=None, zero_root: bool = True, root: int = 0):
    """Lift ``keypoints_2d (T, J, 2)`` (normalised) in chunks; yields ``(first_frame, poses)``
    blocks ``(n, J, 3)`` float32 in frame order (the root joint, index ``root``, set to 0 with
    ``zero_root``), together covering ``0 .. T-1``.

    ``stride`` defaults to ``F // 2`` (see the module docstring). Memory holds ``chunk_windows``
    windows and one window's overlap, whatever T; ``keypoints_2d`` may be any array-like that
    slices (a memory map). ``progress(frames_done)`` is called after each block. Chunking does
    not change the result: each frame's weighted sum is accumulated in window order either way.
    """
    length, frames = len(keypoints_2d), predictor.frames
    stride = max(1, frames // 2) if stride is None else stride
    starts = window_starts(length, frames, stride)
    done, acc, wsum = 0, None, None  # acc/wsum: running sums for frames done .. done + len(acc)
    for first in range(0, len(starts), chunk_windows):
        chunk = starts[first: first + chunk_windows]
        lo, hi = int(chunk[0]), min(int(chunk[-1]) + frames, length)
        source = np.asarray(keypoints_2d[lo:hi], dtype=np.float32)
        index = np.minimum(chunk[:, None] - lo + np.arange(frames), len(source) - 1)
        pred = predictor(source[index]).astype(np.float64)
        acc, wsum = _grow(acc, wsum, hi - done, pred.shape[2:])
        for k, start in enumerate(chunk):
            n = min(frames, length - int(start))
            w = window_weights(starts, first + k, frames, stride)[:n]
            acc[start - done: start - done + n] += w[:, None, None] * pred[k, :n]
            wsum[start - done: start - done + n] += w
        nxt = length if first + chunk_windows >= len(starts) else int(starts[first + chunk_windows])
        block = (acc[: nxt - done] / wsum[: nxt - done, None, None]).astype(np.float32)
        if zero_root:
            block[:, root] = 0.0
        yield done, block
        acc, wsum, done = acc[nxt - done:], wsum[nxt - done:], nxt
        if progress is not None:
            progress(done)


def _grow(acc, wsum, size: int, tail: tuple):
    """Running sums extended with zeros to ``size`` frames."""
    if acc is None:
        return np.zeros((size,) + tail), np.zeros(size)
    extra = size - len(acc)
    return (np.concatenate([acc, np.zeros((extra,) + tail)]),
            np.concatenate([wsum, np.zeros(extra)]))


def predict_sequence(
    model,
    keypoints_2d: np.ndarray,
    *,
    flip: bool = True,
    batch_size: int = 32,
    device: str | torch.device | None = None,
    amp: str | None = None,
    stride: int | None = None,
    zero_root: bool = True,
    skeleton=None,
) -> np.ndarray:
    """Lift one normalised 2D sequence ``(T, J, 2)`` to root-relative 3D ``(T, J, 3)``.

    Any T >= 1 works (short sequences are padded with their last frame). ``model`` is a MixSTE
    model or a window predictor; ``stride`` (default F/2) as in :func:`stream_sequence`, whose
    blocks are concatenated here (all windows in one chunk). The root joint is set to 0 with
    ``zero_root``.
    """
    keypoints_2d = np.asarray(keypoints_2d, dtype=np.float32)
    if keypoints_2d.ndim != 3 or keypoints_2d.shape[0] < 1:
        raise ValueError(f"expected keypoints (T >= 1, J, 2), got shape {keypoints_2d.shape}")
    predictor = model if hasattr(model, "frames") and not isinstance(model, torch.nn.Module) else \
        TorchPredictor(model, flip=flip, batch_size=batch_size, device=device, amp=amp,
                       skeleton=skeleton)
    blocks = [block for _, block in stream_sequence(predictor, keypoints_2d, stride=stride,
                                                    chunk_windows=1 << 62, zero_root=zero_root)]
    return np.concatenate(blocks)
