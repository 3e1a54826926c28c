"""Models: attention kernels and layers, transformer blocks, MixSTE, presets and checkpoints."""
from starpose.models.config import MixSTEConfig
from starpose.models.mixste import MixSTE, build_model, count_parameters
from starpose.models.presets import PRESETS, Preset, get_preset

__all__ = ["MixSTE", "MixSTEConfig", "PRESETS", "Preset", "build_model", "count_parameters", "get_preset"]
