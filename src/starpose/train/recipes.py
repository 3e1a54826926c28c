"""Named training recipes: a whole run's settings under one name (``starpose train --recipe``).

A recipe is reproducible only as a whole, so the command refuses options that contradict it.
Kept free of torch imports: the command line builds its choices from this table.
"""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class TrainingRecipe:
    """``train``: TrainConfig settings; ``data``: the ``starpose synth`` call that makes its data;
    ``starts_from``: the recipe whose model the run must start from (``--init-from``), if any."""

    name: str
    description: str
    train: dict = field(default_factory=dict)
    data: dict = field(default_factory=dict)
    starts_from: str = ""


#: The bundled model (:mod:`starpose.models.bundled`): the first bundled model (``bundled-v1``,
#: given with ``--init-from``) retrained on box-relative input (:mod:`starpose.data.model_input`)
#: with the varied cameras of ``synth --cameras varied``: 4 epochs x 100 batches x 32 windows of
#: 27 frames (flipped copies included) of the small set's noisy 2D keypoints, lr 5e-4, on one CPU
#: core (one torch thread).
BUNDLED = TrainingRecipe(
    name="bundled",
    description="the model shipped with starpose (docs/bundled-model.md); give --init-from the "
                "bundled-v1 weights",
    train=dict(preset="star-mixste-27", keypoints="noisy", epochs=4, batch_size=32, lr=5e-4,
               lr_decay=0.95, max_batches_per_epoch=100, val_stride=8, seed=0, checkpoint_every=25,
               input_norm="box"),
    data=dict(dataset="h36m", preset="small", seed=0, cameras="varied"),
    starts_from="bundled-v1",
)

#: The first bundled model (starpose 0.1): the starting point of :data:`BUNDLED` since 0.2.
BUNDLED_V1 = TrainingRecipe(
    name="bundled-v1",
    description="the first bundled model (Human3.6M cameras, screen input; the start of 'bundled')",
    train=dict(preset="star-mixste-27", keypoints="noisy", epochs=24, batch_size=32, lr=1e-3,
               lr_decay=0.99, max_batches_per_epoch=200, val_stride=4, seed=0, checkpoint_every=100),
    data=dict(dataset="h36m", preset="small", seed=0),
)

RECIPES: dict[str, TrainingRecipe] = {BUNDLED.name: BUNDLED, BUNDLED_V1.name: BUNDLED_V1}

__all__ = ["TrainingRecipe", "RECIPES", "BUNDLED"]
