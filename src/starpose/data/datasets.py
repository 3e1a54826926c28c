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
from starpose.errors import DataError

#: ``load(data_dir, keypoints, subjects) -> list[Sequence]`` (see :mod:`starpose.data.h36m`).
Loader = Callable[[Path, str, "Seq[str] | None"], list]
#: ``report(model, sequences, *, protocol, flip, by_subject, batch_size, amp, skeleton)
#: -> (json_result, text)``: a dataset's own evaluation report (see :mod:`starpose.evaluate`).
Report = Callable[..., tuple]
#: ``metric(model, sequences, *, batch_size, amp, skeleton) -> float``: the validation number
#: of a training epoch, lower is better.
ValidationMetric = Callable[..., float]
#: ``synthesize(out_dir, preset, seed, progress) -> {name: path}``: writes a synthetic copy.
Synthesizer = Callable[..., dict]


def first_word(action: str) -> str:
    """The published action grouping: the name before the first space ("Walking 1" -> "Walking")."""
    return action.split(" ", 1)[0]


def group_or_name(action: str, wanted: "Seq[str]") -> bool:
    """Keep an action whose group or full name is one of ``wanted`` (Human3.6M's filter)."""
    return first_word(action) in wanted or action in wanted


def name_prefix(action: str, wanted: "Seq[str]") -> bool:
    """Keep an action whose name starts with one of ``wanted`` (the published filter, e.g.
    "Walk" keeps "Walking 1 chunk0")."""
    return any(action.startswith(word) for word in wanted)


@dataclass(frozen=True)
class Dataset:
    """What the pipelines need to know about one benchmark.

    ``skeleton`` is the lifting layout (its ``num_joints`` is the model's joint count);
    ``image_sizes`` maps a camera or sequence id to ``(width, height)`` in pixels;
    ``loss_joint_weights`` has one weight per joint (the weighted MPJPE of the MixSTE loss);
    ``file_3d`` / ``file_2d`` name the files in a data folder (``file_2d`` has a ``{name}`` field
    for the keypoints name, e.g. ``gt``); ``actions_evaluated`` are the action-group prefixes the
    published evaluation keeps (empty: all); ``action_filter(action, wanted)`` says whether
    an action name passes an ``--actions`` list. Optional hooks: ``evaluate_report`` replaces the
    published action tables of ``starpose evaluate``, ``validation_metric`` the protocol #1
    MPJPE that training validates with, ``synthesize`` writes a synthetic copy of the dataset
    (presets ``synth_presets``, the first the default).

    For lifting keypoint files: ``h36m_joints`` gives, for each joint of ``skeleton``, the index
    of the Human3.6M-17 joint standing for it (the layout the COCO, MediaPipe and OpenPose readers
    map to; None: no such map, those formats are refused), and ``layout_name`` is the
    ``metadata['layout_name']`` that VideoPose3D-style 2D files give this joint order (empty: none).
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
    action_filter: Callable[[str, "Seq[str]"], bool] = group_or_name
    evaluate_report: Report | None = None
    validation_metric: ValidationMetric | None = None
    synthesize: Synthesizer | None = None
    synth_presets: tuple[str, ...] = ()
    h36m_joints: tuple[int, ...] | None = None
    layout_name: str = ""
    extra: dict = field(default_factory=dict)

    @property
    def num_joints(self) -> int:
        return self.skeleton.num_joints

    def select(self, sequences: list, subjects=None, actions=None) -> list:
        """The sequences of ``subjects`` whose action passes :attr:`action_filter` (None: all)."""
        return [s for s in sequences
                if (subjects is None or s.subject in subjects)
                and (not actions or self.action_filter(s.action, tuple(actions)))]

    def check_actions(self, sequences: list, actions, source) -> None:
        """Refuse names of ``actions`` that no sequence's action passes (a typo would otherwise
        silently narrow the data): a :class:`DataError` listing the action groups there are."""
        unknown = [a for a in actions if not any(self.action_filter(s.action, (a,)) for s in sequences)]
        if unknown:
            known = sorted({self.action_group(s.action) for s in sequences})
            subjects = ", ".join(dict.fromkeys(s.subject for s in sequences))
            raise DataError(f"{source}: unknown action(s) {', '.join(unknown)}; the sequences of "
                            f"{subjects} have: {', '.join(known) or 'none'}")

    def file_2d_for(self, keypoints: str) -> str:
        """The 2D file of the keypoints named ``keypoints``."""
        return self.file_2d.format(name=keypoints)

    def __post_init__(self):
        if len(self.loss_joint_weights) != self.num_joints:
            raise ValueError(f"{self.name}: {len(self.loss_joint_weights)} loss weights for "
                             f"{self.num_joints} joints")
        if not 0 <= self.root < self.num_joints:
            raise ValueError(f"{self.name}: root {self.root} outside the skeleton")
        if self.h36m_joints is not None and (len(self.h36m_joints) != self.num_joints
                                             or not all(0 <= j < 17 for j in self.h36m_joints)):
            raise ValueError(f"{self.name}: h36m_joints must give one Human3.6M-17 joint per joint")


#: The dataset of ``--dataset``'s default (today's commands, published checkpoints).
DEFAULT_DATASET = "h36m"
_REGISTRY: dict[str, Dataset] = {}
#: Modules that register a dataset when imported, by dataset name (imported on first use so that
#: the command line's ``--help`` stays fast).
_PROVIDERS: dict[str, str] = {
    "h36m": "starpose.data.h36m",
    "humaneva": "starpose.data.humaneva",
    "3dhp": "starpose.data.mpi_inf_3dhp",
}


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


def all_datasets() -> tuple[Dataset, ...]:
    """Every dataset, in the order of :func:`dataset_names` (imports their modules)."""
    return tuple(get_dataset(name) for name in _PROVIDERS)


def dataset_with_layout(layout_name: str) -> Dataset | None:
    """The dataset whose joint order 2D files call ``layout_name`` (e.g. ``humaneva15``), if any."""
    return next((d for d in all_datasets() if d.layout_name and d.layout_name == layout_name), None)


def dataset_for_joints(num_joints: int, names: "Seq[str]" = ()) -> Dataset | None:
    """The dataset of a pose layout: the one whose joint names are ``names``, else the first
    (in :func:`dataset_names` order, so Human3.6M before MPI-INF-3DHP) with ``num_joints`` joints."""
    datasets = all_datasets()
    named = [d for d in datasets if names and tuple(d.skeleton.names) == tuple(names)]
    counted = [d for d in datasets if d.num_joints == num_joints]
    return (named or counted or [None])[0]
