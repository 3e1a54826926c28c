"""The named model presets: one table of sizes (:data:`PRESETS`).

Every size exists with vanilla attention (``mixste-F``, the published MixSTE at F = 243) and
with Star-Attention (``star-mixste-F``, the paper's at F = 243); 81 and 27 frames train on a CPU.
The recipe each size trains with is training's: :data:`starpose.train.recipes.SIZE_RECIPES`.
"""
from __future__ import annotations

from dataclasses import dataclass

from starpose.models.config import MixSTEConfig


@dataclass(frozen=True)
class Preset:
    """A named model configuration."""

    name: str
    model: MixSTEConfig


#: (frames, dim, depth, heads): the paper's 243-frame model, and CPU sizes.
_SIZES = (
    (243, 512, 8, 8),
    (81, 128, 4, 8),
    (27, 64, 4, 4),
)
_ATTENTIONS = (("mixste", "vanilla"), ("star-mixste", "star"))


def _table() -> dict[str, Preset]:
    table = {}
    for frames, dim, depth, heads in _SIZES:
        for prefix, attention in _ATTENTIONS:
            name = f"{prefix}-{frames}"
            model = MixSTEConfig(num_frames=frames, dim=dim, depth=depth, num_heads=heads, attention=attention)
            table[name] = Preset(name, model)
    return table


#: HumanEva-I (15 joints): MixSTE's 43-frame model (its HumanEva setting) and a CPU size.
_HUMANEVA_SIZES = (
    (43, 512, 8, 8),
    (27, 64, 4, 4),
)


def _humaneva_table() -> dict[str, Preset]:
    table = {}
    for frames, dim, depth, heads in _HUMANEVA_SIZES:
        for prefix, attention in _ATTENTIONS:
            name = f"{prefix}-{frames}-humaneva"
            model = MixSTEConfig(num_frames=frames, num_joints=15, dim=dim, depth=depth,
                                 num_heads=heads, attention=attention)
            table[name] = Preset(name, model)
    return table


#: The presets by name, in the order ``starpose info`` lists them.
PRESETS: dict[str, Preset] = _table() | _humaneva_table()


def get_preset(name: str) -> Preset:
    """The preset called ``name``; KeyError naming the known presets for any other name."""
    try:
        return PRESETS[name]
    except KeyError:
        raise KeyError(f"unknown preset {name!r}; choose from {', '.join(PRESETS)}") from None


__all__ = ["Preset", "PRESETS", "get_preset"]
