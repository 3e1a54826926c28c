"""The trajectory model: the root's position in camera coordinates from 2D keypoints alone.

As VideoPose3D's trajectory branch, a small temporal convolution network looks at a window of
2D poses and predicts the root's depth and offset for the window's centre frame, trained with
a loss weighted by the inverse of the true depth. The input is camera-independent: keypoints
in normalised image coordinates (rays, ``(u - c) / f``, :func:`starpose.world.intrinsics.to_rays`).

Per frame, the features are the rays of the 17 joints relative to the pelvis ray divided by
their scale ``s`` (the RMS distance of the joints from the pelvis, in ray units), ``log s`` and
the pelvis ray itself (37 numbers). The network predicts ``(a, dx, dy)``; the root is::

    z = exp(a) / s,    root = ((pelvis_x + dx) z, (pelvis_y + dy) z, z)

so ``a`` is about the log of the body's size (a person twice as far is half as big), and
``(dx, dy)`` corrects the detected pelvis. Loss: :func:`inverse_depth_loss`,
``mean_t |root_t - true_t| / true_z_t``.

Layers: a 1x1 input convolution to ``channels``, then residual blocks (a kernel-3 convolution
with dilation 3^k, k = 0 .. blocks-1, and a 1x1 convolution, ReLU between), then a 1x1
convolution to the 3 outputs. The receptive field is ``1 + 2 (3^blocks - 1) / 2`` frames
(27 for 3 blocks); sequences are padded by repeating their first and last frames.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch
from torch import nn

FEATURES = 37


@dataclass(frozen=True)
class TrajectoryConfig:
    """The trajectory network's size: ``channels`` per layer, ``blocks`` dilated blocks."""

    channels: int = 128
    blocks: int = 3
    joints: int = 17

    @property
    def receptive_field(self) -> int:
        return 3 ** self.blocks

    def to_dict(self) -> dict:
        return asdict(self)


class TrajectoryNet(nn.Module):
    """``(B, T, 17, 2)`` rays -> ``(B, T - receptive_field + 1, 3)`` raw outputs ``(a, dx, dy)``."""

    def __init__(self, config: TrajectoryConfig = TrajectoryConfig()):
        super().__init__()
        self.config = config
        c = config.channels
        self.inp = nn.Conv1d(FEATURES, c, 1)
        self.dilated = nn.ModuleList(nn.Conv1d(c, c, 3, dilation=3 ** k)
                                     for k in range(config.blocks))
        self.mix = nn.ModuleList(nn.Conv1d(c, c, 1) for _ in range(config.blocks))
        self.out = nn.Conv1d(c, 3, 1)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        x = torch.relu(self.inp(features.transpose(1, 2)))
        for k, (dilated, mix) in enumerate(zip(self.dilated, self.mix)):
            pad = 3 ** k
            x = x[..., pad:-pad] + mix(torch.relu(dilated(torch.relu(x))))
        return self.out(x).transpose(1, 2)


def ray_features(rays: torch.Tensor, root: int = 0) -> tuple[torch.Tensor, ...]:
    """``(features (B, T, 37), scale (B, T), pelvis (B, T, 2))`` of rays ``(B, T, J, 2)``."""
    pelvis = rays[..., root, :]
    centred = rays - pelvis[..., None, :]
    scale = centred.pow(2).sum(-1).mean(-1).sqrt().clamp_min(1e-6)
    shape = centred / scale[..., None, None]
    features = torch.cat([shape.flatten(-2), scale.log()[..., None], pelvis], dim=-1)
    return features, scale, pelvis


def decode_root(raw: torch.Tensor, scale: torch.Tensor, pelvis: torch.Tensor) -> torch.Tensor:
    """Root positions ``(..., 3)`` from the network's ``(a, dx, dy)`` (see the module docstring)."""
    z = torch.exp(raw[..., 0]) / scale
    xy = (pelvis + raw[..., 1:]) * z[..., None]
    return torch.cat([xy, z[..., None]], dim=-1)


def inverse_depth_loss(pred: torch.Tensor, truth: torch.Tensor) -> torch.Tensor:
    """``mean |pred - truth| / truth_z`` over root positions ``(..., 3)``: an error of 10 cm
    counts as much at 1 m as 1 m does at 10 m."""
    return (torch.linalg.vector_norm(pred - truth, dim=-1) / truth[..., 2]).mean()


def predict_root(model: TrajectoryNet, rays: np.ndarray) -> np.ndarray:
    """Root positions ``(T, 3)`` (camera coordinates, metres) for rays ``(T, 17, 2)`` of one
    sequence (edge frames repeated to fill the receptive field)."""
    half = model.config.receptive_field // 2
    padded = np.concatenate([rays[:1].repeat(half, 0), rays, rays[-1:].repeat(half, 0)])
    with torch.no_grad():
        x = torch.as_tensor(padded, dtype=torch.float32)[None]
        features, scale, pelvis = ray_features(x)
        raw = model(features)
        root = decode_root(raw, scale[:, half:len(padded) - half], pelvis[:, half:len(padded) - half])
    return root[0].double().numpy()
