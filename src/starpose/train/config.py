"""The configuration of a training run: :class:`TrainConfig` (written to ``RUN_DIR/config.json``)
and reading it back from a run folder."""
from __future__ import annotations

import json
import os
from dataclasses import MISSING, dataclass, field, fields, replace
from pathlib import Path

from starpose.datasets.registry import DEFAULT_DATASET, get_dataset
from starpose.errors import StarposeError
from starpose.train.recipes import preset_recipe

@dataclass
class TrainConfig:
    """Everything that defines a training run (written to RUN_DIR/config.json)."""

    data_dir: str
    out: str
    keypoints: str = "gt"
    preset: str = "star-mixste-27"
    attention: str | None = None  # overrides the preset's attention type
    model_overrides: dict = field(default_factory=dict)  # e.g. {"drop_path_rate": 0.1}
    epochs: int | None = None
    batch_size: int | None = None  # windows per optimiser step (global, over all ranks)
    lr: float | None = None
    lr_decay: float = 0.99
    weight_decay: float = 0.1
    loss_mode: str = "squared"
    flip_augment: bool = True
    subjects_train: tuple[str, ...] | None = None  # None: the dataset's training subjects
    subjects_test: tuple[str, ...] | None = None  # None: the dataset's test subjects
    actions: tuple[str, ...] | None = None  # action filter (None: the dataset's evaluated actions)
    seed: int = 0
    device: str = "auto"
    amp: str | None = None
    compile: bool = False
    eval_batch_size: int = 64
    max_batches_per_epoch: int | None = None  # cap an epoch at this many (shuffled) batches
    val_stride: int = 1  # validate after each epoch on every k-th test sequence
    progress: bool | None = None  # None: only on a terminal
    checkpoint_every: int | None = None  # also write last.pt every N steps within an epoch
    log_every: int = 100  # without a progress bar: a line with loss and speed every N steps
    dataset: str = DEFAULT_DATASET  # a name of starpose.datasets.registry
    input_norm: str | None = None  # model input normalisation (None: init_from's, else screen)
    init_from: str | None = None  # start from this checkpoint's weights (fresh optimiser)

    def resolved(self) -> "TrainConfig":
        """The config with the recipe's defaults filled in for unset epochs / batch size / lr."""
        from starpose.models.presets import PRESETS

        if self.preset not in PRESETS:
            raise StarposeError(f"unknown preset {self.preset!r}; choose from {', '.join(PRESETS)}")
        at_least_one = (lambda v: v >= 1, "at least 1")
        for name, value, (ok, rule) in (
                *((name, getattr(self, name), at_least_one)
                  for name in ("epochs", "batch_size", "max_batches_per_epoch", "val_stride",
                               "checkpoint_every", "log_every")),
                ("lr", self.lr, (lambda v: v > 0, "positive")),
                ("weight_decay", self.weight_decay, (lambda v: v >= 0, "at least 0")),
                ("lr_decay", self.lr_decay, (lambda v: 0 < v <= 1, "in (0, 1]")),
                ("drop_path_rate", self.model_overrides.get("drop_path_rate"), (lambda v: 0 <= v < 1, "in [0, 1)"))):
            if value is not None and not ok(value):
                raise StarposeError(f"training setting {name} must be {rule}, got {value}")
        recipe = preset_recipe(self.preset).train
        filled = {k: v for k, v in recipe.items() if getattr(self, k) is None}
        try:
            dataset = get_dataset(self.dataset)
        except KeyError as err:
            raise StarposeError(str(err.args[0])) from None
        return replace(self, subjects_train=tuple(self.subjects_train or dataset.subjects_train),
                       subjects_test=tuple(self.subjects_test or dataset.subjects_test),
                       actions=tuple(self.actions) if self.actions else None, **filled)

    def model_config(self):
        from starpose.models.presets import get_preset

        # The model takes the dataset's joints, whatever joint count the preset was written for.
        overrides = {"num_joints": get_dataset(self.dataset).num_joints,
                     "input_norm": self.input_norm or "screen", **self.model_overrides}
        if self.attention:
            overrides["attention"] = self.attention
        return replace(get_preset(self.preset).model, **overrides)


def config_defaults() -> dict:
    """The defaults of :class:`TrainConfig`'s fields that have one (the command line's defaults)."""
    return {f.name: f.default for f in fields(TrainConfig) if f.default is not MISSING}


def jsonable(value):
    """``value`` with tuples as lists (what JSON holds), recursively."""
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    return value


def config_from_run(run_dir: str | os.PathLike) -> TrainConfig:
    """The configuration of an earlier run (its config.json)."""
    path = Path(run_dir) / "config.json"
    if not path.is_file():
        raise StarposeError(f"{path}: no such file; is {run_dir} a starpose run folder?")
    try:
        data = json.loads(path.read_text())
        known = {f.name for f in fields(TrainConfig)}
        return TrainConfig(**{k: v for k, v in data.items() if k in known})
    except (json.JSONDecodeError, TypeError) as err:
        raise StarposeError(f"{path}: not a valid run configuration ({err})") from None
