"""Models: attention layers, transformer blocks, MixSTE and checkpoints."""
from starpose.models.mixste import PRESETS, MixSTE, MixSTEConfig, build_model, count_parameters

__all__ = ["MixSTE", "MixSTEConfig", "PRESETS", "build_model", "count_parameters"]
