"""Named training recipes: a whole run's settings under one name (``starpose train --recipe``).

A recipe is reproducible only as a whole, so the command refuses options that contradict it.
Kept free of torch imports: the command line builds its choices from this table.
"""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class TrainingRecipe:
    """``train``: TrainConfig settings; ``data``: the ``starpose synth`` call that makes its data."""

    name: str
    description: str
    train: dict = field(default_factory=dict)
    data: dict = field(default_factory=dict)


#: The bundled model (:mod:`starpose.models.bundled`): 24 epochs x 200 batches x 32 windows of 27
#: frames (flipped copies included) of the small synthetic set's noisy 2D keypoints, about an hour
#: on one CPU core (one torch thread).
BUNDLED = TrainingRecipe(
    name="bundled",
    description="the model shipped with starpose (docs/bundled-model.md)",
    train=dict(preset="star-mixste-27", keypoints="noisy", epochs=24, batch_size=32, lr=1e-3,
               lr_decay=0.99, max_batches_per_epoch=200, val_stride=4, seed=0, checkpoint_every=100),
    data=dict(dataset="h36m", preset="small", seed=0),
)

RECIPES: dict[str, TrainingRecipe] = {BUNDLED.name: BUNDLED}

__all__ = ["TrainingRecipe", "RECIPES", "BUNDLED"]
