"""The hyperparameters of a MixSTE model (:class:`MixSTEConfig`)."""
from __future__ import annotations

from dataclasses import dataclass

from starpose.models.kernels import check_kernel_name


@dataclass(frozen=True)
class MixSTEConfig:
    """Hyperparameters of :class:`~starpose.models.mixste.MixSTE`.

    A starpose checkpoint stores all of them beside the weights except ``attention_kernel``,
    which picks how attention is computed (not what): ``"auto"`` (the fastest kernel for each
    call), ``"reference"``, ``"sdpa"`` or ``"cpu_small"`` (see :mod:`starpose.models.kernels`).
    ``"reference"`` is the published computation op for op, the LayerNorms included
    (:class:`~starpose.models.blocks.LayerNorm`).
    """

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
    attention_kernel: str = "auto"
    #: How 2D keypoints become the model's input (:mod:`starpose.data.model_input`): ``"screen"``
    #: (the published image-width normalisation, the default of every published-layout model),
    #: ``"box"`` (relative to the person's box, framing-invariant), ``"rays"`` or ``"view"`` (rays,
    #: lifted in the camera turned to the person: :mod:`starpose.models.view_frame`).
    input_norm: str = "screen"

    def __post_init__(self):
        check_kernel_name(self.attention_kernel)
        if self.input_norm not in INPUT_NORMS:
            raise ValueError(f"unknown input normalisation {self.input_norm!r} "
                             f"(choose from {', '.join(INPUT_NORMS)})")


#: The input normalisations (see :mod:`starpose.data.model_input`, which implements them).
INPUT_NORMS = ("screen", "box", "rays", "view")


__all__ = ["MixSTEConfig", "INPUT_NORMS"]
