"""Training recipes, one type for all: the recipe each model size trains with, and named
recipes that fix a whole run (``starpose train --recipe``).

A named recipe is reproducible only as a whole, so the command refuses options that contradict it.
Kept free of torch imports: the command line builds its choices and help from these tables.
"""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Recipe:
    """``train``: the :class:`~starpose.train.config.TrainConfig` settings the recipe sets (a
    size's recipe: ``lr``, ``batch_size``, ``epochs``); ``data``: for a named recipe, the
    ``starpose synth`` call that makes its data; ``starts_from``: the named recipe whose model
    the run must start from (``--init-from``), if any."""

    name: str
    description: str
    train: dict = field(default_factory=dict)
    data: dict = field(default_factory=dict)
    starts_from: str = ""


def _size(frames: int, description: str, lr: float, batch_size: int, epochs: int) -> Recipe:
    return Recipe(f"{frames} frames", description, dict(lr=lr, batch_size=batch_size, epochs=epochs))


#: The recipe of each model size, by its frame count (the presets of
#: :mod:`starpose.models.presets`): AdamW learning rate, windows per batch, epochs.
SIZE_RECIPES: dict[int, Recipe] = {
    243: _size(243, "the paper's Human3.6M recipe", lr=4e-5, batch_size=4, epochs=120),
    81: _size(81, "a CPU size", lr=5e-4, batch_size=16, epochs=40),
    43: _size(43, "MixSTE's HumanEva-I setting", lr=1e-4, batch_size=32, epochs=200),
    27: _size(27, "a CPU size", lr=1e-3, batch_size=32, epochs=30),
}


def preset_recipe(preset: str) -> Recipe:
    """The recipe that model preset ``preset`` trains with (that of its frame count); KeyError
    naming the known presets for an unknown name."""
    from starpose.models.presets import get_preset  # torch: imported when a run starts, not for --help

    return SIZE_RECIPES[get_preset(preset).model.num_frames]


def size_defaults(setting: str) -> str:
    """``"243 frames: 120, 81 frames: 40, ..."``: a setting of the size recipes, for the help."""
    return ", ".join(f"{frames} frames: {recipe.train[setting]:g}" for frames, recipe in SIZE_RECIPES.items())


#: The bundled model (:mod:`starpose.models.bundled`): the first bundled model (``bundled-v1``,
#: given with ``--init-from``) retrained on camera rays lifted in the camera turned to the person
#: (``input_norm="view"``: :mod:`starpose.data.model_input`, :mod:`starpose.models.view_frame`)
#: with the varied cameras of ``synth --cameras varied``: 40 epochs x 100 batches x 32 windows of
#: 27 frames (flipped copies included) of the small set's noisy 2D keypoints, lr 5e-4, on one CPU
#: core (one torch thread).
BUNDLED = Recipe(
    name="bundled",
    description="the model shipped with starpose (docs/bundled-model.md); give --init-from the "
                "bundled-v1 weights",
    train=dict(preset="star-mixste-27", keypoints="noisy", epochs=40, batch_size=32, lr=5e-4,
               lr_decay=0.95, max_batches_per_epoch=100, val_stride=8, seed=0, checkpoint_every=25,
               input_norm="view"),
    data=dict(dataset="h36m", preset="small", seed=0, cameras="varied"),
    starts_from="bundled-v1",
)

#: The first bundled model (starpose 0.1): the starting point of :data:`BUNDLED` since 0.2.
BUNDLED_V1 = Recipe(
    name="bundled-v1",
    description="the first bundled model (Human3.6M cameras, screen input; the start of 'bundled')",
    train=dict(preset="star-mixste-27", keypoints="noisy", epochs=24, batch_size=32, lr=1e-3,
               lr_decay=0.99, max_batches_per_epoch=200, val_stride=4, seed=0, checkpoint_every=100),
    data=dict(dataset="h36m", preset="small", seed=0),
)

#: The named recipes of ``starpose train --recipe``.
RECIPES: dict[str, Recipe] = {BUNDLED.name: BUNDLED, BUNDLED_V1.name: BUNDLED_V1}

__all__ = ["Recipe", "SIZE_RECIPES", "RECIPES", "BUNDLED", "BUNDLED_V1", "preset_recipe", "size_defaults"]
