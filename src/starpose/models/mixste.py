"""MixSTE: a seq2seq spatio-temporal transformer lifting 2D keypoints ``(B, F, J, 2)`` to 3D.

Each of ``depth`` stages runs a spatial block over the J joints of every frame, then a temporal
block over the F frames of every joint. The layout (one shared spatial and one shared temporal
LayerNorm, position embeddings, head) is exactly the published MixSTE's, so its checkpoints load
through :mod:`starpose.models.checkpoints`. ``attention="star"`` swaps every attention layer for
Star-Attention; ``attention_kernel`` picks how attention is computed (:mod:`starpose.models.kernels`).
"""
from __future__ import annotations

from dataclasses import replace

import torch
from torch import nn

from starpose.models import inference_path
from starpose.models.attention import Attention
from starpose.models.blocks import Block, LayerNorm, Mlp
from starpose.models.config import MixSTEConfig
from starpose.models.presets import get_preset


class MixSTE(nn.Module):
    """MixSTE with vanilla or Star-Attention.

    Input ``(B, F, J, in_chans)`` normalised 2D keypoints; output ``(B, F, J, 3)`` root-relative
    3D joints. F and J must equal ``num_frames`` and ``num_joints``.
    """

    def __init__(self, config: MixSTEConfig | None = None, *, recompute: bool = True, **fields):
        """``config`` (default: :class:`MixSTEConfig`'s defaults, the published 243-frame model)
        with ``fields`` replaced, e.g. ``MixSTE(num_frames=27, dim=64)``; ``recompute``: recompute
        cheap activations in the backward pass instead of storing them."""
        super().__init__()
        self.config = config = replace(config or MixSTEConfig(), **fields)
        num_frames, num_joints, in_chans, dim = config.num_frames, config.num_joints, config.in_chans, config.dim
        num_heads, mlp_ratio, qkv_bias, depth = config.num_heads, config.mlp_ratio, config.qkv_bias, config.depth
        drop_rate, attn_drop_rate, drop_path_rate = config.drop_rate, config.attn_drop_rate, config.drop_path_rate
        attention, attention_kernel = config.attention, config.attention_kernel
        self.joint_embed = nn.Linear(in_chans, dim)
        self.spatial_pos_embed = nn.Parameter(torch.zeros(1, num_joints, dim))
        self.temporal_pos_embed = nn.Parameter(torch.zeros(1, num_frames, dim))
        self.pos_drop = nn.Dropout(drop_rate)

        rates = torch.linspace(0, drop_path_rate, depth).tolist()

        def block(seq_len: int, rate: float) -> Block:
            return Block(
                dim, num_heads, mlp_ratio, qkv_bias, drop=drop_rate, attn_drop=attn_drop_rate,
                drop_path=rate, attention=attention, seq_len=seq_len, kernel=attention_kernel,
                recompute=recompute,
            )

        self.spatial_blocks = nn.ModuleList(block(num_joints, r) for r in rates)
        self.temporal_blocks = nn.ModuleList(block(num_frames, r) for r in rates)
        # One LayerNorm of each kind, shared by all stages, as published.
        self.spatial_norm = LayerNorm(dim, eps=1e-6, kernel=attention_kernel)
        self.temporal_norm = LayerNorm(dim, eps=1e-6, kernel=attention_kernel)
        self.head_norm = LayerNorm(dim, kernel=attention_kernel)
        self.head = nn.Linear(dim, 3)

    @classmethod
    def from_config(cls, config: MixSTEConfig | dict, recompute: bool = True) -> "MixSTE":
        """A model from a config or its dict (as checkpoints store it)."""
        return cls(config if isinstance(config, MixSTEConfig) else MixSTEConfig(**config), recompute=recompute)

    @property
    def num_frames(self) -> int:
        return self.config.num_frames

    @property
    def num_joints(self) -> int:
        return self.config.num_joints

    @property
    def input_norm(self) -> str:
        """How its 2D input is normalised (:mod:`starpose.data.model_input`)."""
        return self.config.input_norm

    def train(self, mode: bool = True) -> "MixSTE":
        """As :meth:`torch.nn.Module.train`; also drops the inference path's packed weights
        (:func:`inference_path.forget_packed`), so that evaluation after training packs the
        trained weights even where the optimiser did not move their version counters."""
        inference_path.forget_packed(self)
        return super().train(mode)

    def set_attention_kernel(self, name: str) -> "MixSTE":
        """Compute every attention layer with kernel ``name`` (or ``"auto"``) from now on (and
        the LayerNorms as published where ``name`` is ``"reference"``)."""
        self.config = replace(self.config, attention_kernel=name)  # validates the name
        for module in self.modules():
            if isinstance(module, (Attention, LayerNorm, Mlp)):
                module.kernel = name
        return self

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, F, J, in_chans)`` -> ``(B, F, J, 3)``; a ``"view"`` model (input rays) lifts
        in the camera turned to the person and turns its output back
        (:mod:`starpose.models.view_frame`)."""
        self._check_input(x)
        if self.config.input_norm == "view":
            from starpose.models.view_frame import to_camera, to_view, view_rotation

            with torch.autocast(x.device.type, enabled=False):  # geometry in the input's precision
                rotation = view_rotation(x)
                x = to_view(x, rotation)
            out = self._lift(x)
            with torch.autocast(x.device.type, enabled=False):
                return to_camera(out.to(x.dtype), rotation)
        return self._lift(x)

    def _lift(self, x: torch.Tensor) -> torch.Tensor:
        if inference_path.applies(self, x):
            return inference_path.forward(self, x)
        B, F, J, C = x.shape
        x = self.pos_drop(self.joint_embed(x.reshape(B * F, J, C)) + self.spatial_pos_embed)
        for stage, (spatial, temporal) in enumerate(zip(self.spatial_blocks, self.temporal_blocks)):
            # (B*F, J, dim) -> normalised, regrouped as (B*J, F, dim) for the temporal block
            x = self.spatial_norm(spatial(x), regroup=(F, J))
            if stage == 0:
                x = self.pos_drop(x + self.temporal_pos_embed)
            x = self.temporal_norm(temporal(x), regroup=(J, F))  # and back to (B*F, J, dim)
        return self.head(self.head_norm(x)).reshape(B, F, J, 3)

    def _check_input(self, x: torch.Tensor) -> None:
        cfg = self.config
        expected = (cfg.num_frames, cfg.num_joints, cfg.in_chans)
        if x.ndim != 4 or tuple(x.shape[1:]) != expected:
            raise ValueError(
                f"MixSTE expects input (B, {cfg.num_frames}, {cfg.num_joints}, {cfg.in_chans}), "
                f"got {tuple(x.shape)}"
            )


def build_model(preset: str, **overrides) -> MixSTE:
    """A fresh model from a preset name (:mod:`starpose.models.presets`), with optional overrides
    of config fields (``attention_kernel="reference"`` for instance)."""
    return MixSTE.from_config(replace(get_preset(preset).model, **overrides))


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


__all__ = ["MixSTE", "MixSTEConfig", "build_model", "count_parameters"]
