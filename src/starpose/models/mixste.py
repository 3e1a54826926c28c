"""MixSTE: a seq2seq spatio-temporal transformer lifting 2D keypoints ``(B, F, J, 2)`` to 3D.

Each of ``depth`` stages runs a spatial block over the J joints of every frame, then a temporal
block over the F frames of every joint. The layout (one shared spatial and one shared temporal
LayerNorm, position embeddings, head) is exactly the published MixSTE's, so its checkpoints load
through :mod:`starpose.models.checkpoints`. ``attention="star"`` swaps every attention layer for
Star-Attention.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, replace

import torch
from torch import nn

from starpose.models.blocks import Block


@dataclass(frozen=True)
class MixSTEConfig:
    """Hyperparameters of :class:`MixSTE` (what a starpose checkpoint stores beside the weights)."""

    num_frames: int = 243
    num_joints: int = 17
    in_chans: int = 2
    dim: int = 512
    depth: int = 8
    num_heads: int = 8
    mlp_ratio: float = 2.0
    qkv_bias: bool = True
    drop_rate: float = 0.0
    attn_drop_rate: float = 0.0
    drop_path_rate: float = 0.0
    attention: str = "star"


class MixSTE(nn.Module):
    """MixSTE with vanilla or Star-Attention.

    Input ``(B, F, J, in_chans)`` normalised 2D keypoints; output ``(B, F, J, 3)`` root-relative
    3D joints. F and J must equal ``num_frames`` and ``num_joints``.
    """

    def __init__(
        self,
        num_frames: int = 243,
        num_joints: int = 17,
        in_chans: int = 2,
        dim: int = 512,
        depth: int = 8,
        num_heads: int = 8,
        mlp_ratio: float = 2.0,
        qkv_bias: bool = True,
        drop_rate: float = 0.0,
        attn_drop_rate: float = 0.0,
        drop_path_rate: float = 0.0,
        attention: str = "star",
        fused: bool = True,
    ):
        super().__init__()
        self.config = MixSTEConfig(
            num_frames, num_joints, in_chans, dim, depth, num_heads, mlp_ratio, qkv_bias,
            drop_rate, attn_drop_rate, drop_path_rate, attention,
        )
        self.joint_embed = nn.Linear(in_chans, dim)
        self.spatial_pos_embed = nn.Parameter(torch.zeros(1, num_joints, dim))
        self.temporal_pos_embed = nn.Parameter(torch.zeros(1, num_frames, dim))
        self.pos_drop = nn.Dropout(drop_rate)

        rates = torch.linspace(0, drop_path_rate, depth).tolist()

        def block(seq_len: int, rate: float) -> Block:
            return Block(
                dim, num_heads, mlp_ratio, qkv_bias, drop=drop_rate, attn_drop=attn_drop_rate,
                drop_path=rate, attention=attention, seq_len=seq_len, fused=fused,
            )

        self.spatial_blocks = nn.ModuleList(block(num_joints, r) for r in rates)
        self.temporal_blocks = nn.ModuleList(block(num_frames, r) for r in rates)
        # One LayerNorm of each kind, shared by all stages, as published.
        self.spatial_norm = nn.LayerNorm(dim, eps=1e-6)
        self.temporal_norm = nn.LayerNorm(dim, eps=1e-6)
        self.head_norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, 3)

    @classmethod
    def from_config(cls, config: MixSTEConfig | dict, fused: bool = True) -> "MixSTE":
        fields = asdict(config) if isinstance(config, MixSTEConfig) else dict(config)
        return cls(**fields, fused=fused)

    @property
    def num_frames(self) -> int:
        return self.config.num_frames

    @property
    def num_joints(self) -> int:
        return self.config.num_joints

    def set_fused(self, fused: bool) -> "MixSTE":
        """Select the fused (scaled_dot_product_attention) or the explicit attention path."""
        for module in self.modules():
            if hasattr(module, "fused"):
                module.fused = fused
        return self

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self._check_input(x)
        B, F, J, C = x.shape
        dim = self.config.dim
        x = self.pos_drop(self.joint_embed(x.reshape(B * F, J, C)) + self.spatial_pos_embed)
        for stage, (spatial, temporal) in enumerate(zip(self.spatial_blocks, self.temporal_blocks)):
            x = self.spatial_norm(spatial(x))
            x = x.reshape(B, F, J, dim).transpose(1, 2).reshape(B * J, F, dim)
            if stage == 0:
                x = self.pos_drop(x + self.temporal_pos_embed)
            x = self.temporal_norm(temporal(x))
            x = x.reshape(B, J, F, dim).transpose(1, 2).reshape(B * F, J, dim)
        return self.head(self.head_norm(x)).reshape(B, F, J, 3)

    def _check_input(self, x: torch.Tensor) -> None:
        cfg = self.config
        expected = (cfg.num_frames, cfg.num_joints, cfg.in_chans)
        if x.ndim != 4 or tuple(x.shape[1:]) != expected:
            raise ValueError(
                f"MixSTE expects input (B, {cfg.num_frames}, {cfg.num_joints}, {cfg.in_chans}), "
                f"got {tuple(x.shape)}"
            )


_SIZES = {
    # name suffix: (frames, dim, depth, heads)
    "243": MixSTEConfig(num_frames=243, dim=512, depth=8, num_heads=8),
    "81": MixSTEConfig(num_frames=81, dim=128, depth=4, num_heads=8),
    "27": MixSTEConfig(num_frames=27, dim=64, depth=4, num_heads=4),
}

#: Named configurations. ``*-243`` is the paper's; 81 and 27 frames train on a CPU.
PRESETS: dict[str, MixSTEConfig] = {}
for _suffix, _cfg in _SIZES.items():
    PRESETS[f"mixste-{_suffix}"] = replace(_cfg, attention="vanilla")
    PRESETS[f"star-mixste-{_suffix}"] = replace(_cfg, attention="star")


def build_model(preset: str, **overrides) -> MixSTE:
    """A fresh model from a preset name, with optional overrides of config fields."""
    if preset not in PRESETS:
        raise KeyError(f"unknown preset {preset!r}; choose from {', '.join(PRESETS)}")
    fused = overrides.pop("fused", True)
    return MixSTE.from_config(replace(PRESETS[preset], **overrides), fused=fused)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
