"""Datasets: the small, explicit description of a benchmark that the pipelines read.

Every benchmark starpose supports (Human3.6M, HumanEva-I, MPI-INF-3DHP) provides one
:class:`Dataset`: its joints and skeleton, root, frame rate, image sizes, default subject split,
how actions group into the rows of the published tables, the loss weights of its joints, its file
names and the function that loads its sequences. Commands take ``--dataset NAME`` and look the
description up with :func:`get_dataset`; nothing else in the code tests a dataset's name, so a new
benchmark is one module that calls :func:`register`.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence as Seq

from starpose.data.skeleton import Skeleton

#: ``load(data_dir, keypoints, subjects) -> list[Sequence]`` (see :mod:`starpose.data.h36m`).
Loader = Callable[[Path, str, "Seq[str] | None"], list]


def first_word(action: str) -> str:
    """The published action grouping: the name before the first space ("Walking 1" -> "Walking")."""
    return action.split(" ", 1)[0]


@dataclass(frozen=True)
class Dataset:
    """What the pipelines need to know about one benchmark.

    ``skeleton`` is the lifting layout (its ``num_joints`` is the model's joint count);
    ``image_sizes`` maps a camera or sequence id to ``(width, height)`` in pixels;
    ``loss_joint_weights`` has one weight per joint (the weighted MPJPE of the MixSTE loss);
    ``file_3d`` / ``file_2d`` name the files in a data folder (``file_2d`` has a ``{name}`` field
    for the keypoints name, e.g. ``gt``); ``actions_evaluated`` are the action-group prefixes the
    published evaluation keeps (empty: all).
    """

    name: str
    title: str
    skeleton: Skeleton
    root: int
    fps: float
    image_sizes: dict[str, tuple[int, int]]
    subjects_train: tuple[str, ...]
    subjects_test: tuple[str, ...]
    loss_joint_weights: tuple[float, ...]
    file_3d: str
    file_2d: str
    load: Loader
    action_group: Callable[[str], str] = first_word
    actions_evaluated: tuple[str, ...] = ()
    extra: dict = field(default_factory=dict)
    #: ``synthesize(out_dir, preset, seed)`` writes the dataset's synthetic files (None: none).
    synthesize: Callable | None = None

    @property
    def num_joints(self) -> int:
        return self.skeleton.num_joints

    def file_2d_for(self, keypoints: str) -> str:
        """The 2D file of the keypoints named ``keypoints``."""
        return self.file_2d.format(name=keypoints)

    def __post_init__(self):
        if len(self.loss_joint_weights) != self.num_joints:
            raise ValueError(f"{self.name}: {len(self.loss_joint_weights)} loss weights for "
                             f"{self.num_joints} joints")
        if not 0 <= self.root < self.num_joints:
            raise ValueError(f"{self.name}: root {self.root} outside the skeleton")


_REGISTRY: dict[str, Dataset] = {}
#: Modules that register a dataset when imported, by dataset name (imported on first use so that
#: the command line's ``--help`` stays fast).
_PROVIDERS: dict[str, str] = {"h36m": "starpose.data.h36m",
                               "3dhp": "starpose.data.mpi_inf_3dhp"}


def register(dataset: Dataset) -> Dataset:
    """Make ``dataset`` available to :func:`get_dataset` (called by the dataset's module)."""
    _REGISTRY[dataset.name] = dataset
    return dataset


def dataset_names() -> tuple[str, ...]:
    """The names ``--dataset`` accepts, in the order of the documentation."""
    return tuple(_PROVIDERS)


def get_dataset(name: str) -> Dataset:
    """The description of the dataset ``name`` (``KeyError`` listing the known ones)."""
    if name not in _REGISTRY and name in _PROVIDERS:
        import importlib

        importlib.import_module(_PROVIDERS[name])
    try:
        return _REGISTRY[name]
    except KeyError:
        raise KeyError(f"unknown dataset {name!r}; known: {', '.join(_PROVIDERS)}") from None
