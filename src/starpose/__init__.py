"""starpose: monocular 3D human pose estimation by 2D-to-3D lifting (MixSTE with Star-Attention)."""
from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__", "MixSTE", "load_model", "save_checkpoint"]


def __getattr__(name):  # lazy: `import starpose` stays cheap for the CLI's --help
    if name == "MixSTE":
        from starpose.models.mixste import MixSTE

        return MixSTE
    if name in ("load_model", "save_checkpoint"):
        from starpose.models import checkpoints

        return getattr(checkpoints, name)
    raise AttributeError(f"module 'starpose' has no attribute {name!r}")
