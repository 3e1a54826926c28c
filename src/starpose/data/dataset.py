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

from starpose.data.skeleton import H36M_17, Skeleton
from starpose.errors import DataError

#: ``load(data_dir, keypoints, subjects) -> list[Sequence]`` (see :mod:`starpose.datasets.h36m.files`).
Loader = Callable[[Path, str, "Seq[str] | None"], list]
#: ``report(model, sequences, *, predict, protocol, flip, by_subject, batch_size, amp, skeleton)
#: -> (json_result, text)``: a dataset's own evaluation report (see :mod:`starpose.evaluate.report`).
Report = Callable[..., tuple]
#: ``metric(model, sequences, *, predict, batch_size, amp, skeleton) -> float``: the validation number
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
                                             or not all(0 <= j < H36M_17.num_joints for j in self.h36m_joints)):
            raise ValueError(f"{self.name}: h36m_joints must give one Human3.6M-17 joint per joint")
