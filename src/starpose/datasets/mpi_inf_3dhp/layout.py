"""MPI-INF-3DHP: its 17-joint layout, test scenes and activities, its sequences and its
:class:`~starpose.datasets.registry.Dataset` description.

The facts (joints, parents, left/right, root, image sizes, frame rates, scenes, activities, the
evaluation's joint groups) come from ``metadata.json`` beside this file. The files
of the lifting literature are read by :mod:`starpose.datasets.mpi_inf_3dhp.files`; the synthetic set
is written by :mod:`starpose.datasets.mpi_inf_3dhp.synthetic`; the evaluation is :mod:`starpose.datasets.mpi_inf_3dhp.report`.

A :class:`Sequence3DHP` holds 2D ``(T, 17, 2)`` normalised by the sequence's image size and 3D
``(T, 17, 3)`` in metres (the files are in millimetres), root-relative: joint 14 (pelvis) is 0.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import numpy as np

from starpose.data.skeleton import Skeleton


@lru_cache(maxsize=1)
def metadata_3dhp() -> dict:
    """The shipped MPI-INF-3DHP metadata (layout, sizes, scenes, activities, evaluation)."""
    text = resources.files("starpose.datasets.mpi_inf_3dhp").joinpath("metadata.json").read_text()
    return json.loads(text)


def _skeleton() -> Skeleton:
    entry = metadata_3dhp()["joints_17"]
    return Skeleton(parents=tuple(entry["parents"]), joints_left=tuple(entry["joints_left"]),
                    joints_right=tuple(entry["joints_right"]), names=tuple(entry["names"]))


#: The 17-joint layout of the lifting files (head_top, neck, ..., pelvis, spine, head).
MPI_3DHP_17 = _skeleton()
ROOT = int(metadata_3dhp()["joints_17"]["root"])
NUM_JOINTS = MPI_3DHP_17.num_joints
FILE_TRAIN = "data_train_3dhp.npz"
FILE_TEST = "data_test_3dhp.npz"
SUBJECTS_TRAIN = tuple(metadata_3dhp()["train"]["subjects"])
SEQUENCES_TRAIN = tuple(metadata_3dhp()["train"]["sequences"])
CAMERAS_TRAIN = tuple(metadata_3dhp()["train"]["cameras"])
TRAIN_IMAGE_SIZE = tuple(metadata_3dhp()["train"]["image_size"])
TEST_SEQUENCES = tuple(metadata_3dhp()["test"]["sequences"])
TEST_IMAGE_SIZES = {k: tuple(v) for k, v in metadata_3dhp()["test"]["image_size"].items()}
#: Scene name -> its test sequences (green screen, studio, outdoor).
SCENES = {k: tuple(v) for k, v in metadata_3dhp()["test"]["scenes"].items()}
#: The 7 activities; a frame's label is 1-based (1 = the first), as in the dataset's annotations.
ACTIVITIES = tuple(metadata_3dhp()["test"]["activities"])
#: The evaluation's 8 joint groups over 14 joints (pelvis, spine and head are not in PCK/AUC).
PCK_JOINT_GROUPS = {k: tuple(v) for k, v in
                    metadata_3dhp()["evaluation"]["pck_joint_groups"].items()}
PCK_THRESHOLD_MM = float(metadata_3dhp()["evaluation"]["pck_threshold_mm"])
#: Frame rate of the training sequences, by ``"S<k> Seq<m>"``.
TRAIN_FPS = {k: float(v[1]) for k, v in metadata_3dhp()["train"]["frames_and_fps"].items()}
#: Loss joint weights: uniform. No published MPI-INF-3DHP weighting of MixSTE's loss exists
#: (MixSTE's weights are defined on the Human3.6M order, whose joints differ).
LOSS_JOINT_WEIGHTS = (1.0,) * NUM_JOINTS


def scene_of(sequence: str) -> str | None:
    """The scene a test sequence (``"TS1"``) was filmed in, or None for a training sequence."""
    return next((scene for scene, names in SCENES.items() if sequence in names), None)


@dataclass(frozen=True, eq=False)
class Sequence3DHP:
    """One MPI-INF-3DHP sequence seen by one camera.

    ``keypoints_2d`` (T, 17, 2) float32, normalised screen coordinates (pixels / image width
    mapped to [-1, 1], aspect kept); ``positions_3d`` (T, 17, 3) float32, camera frame in metres,
    root-relative (joint 14 is 0); ``valid`` (T,) bool, the frames the evaluation counts (all
    True for training sequences); ``activity`` (T,) int, 1-based index into :data:`ACTIVITIES`,
    or None when the file has no labels. ``subject`` is ``"S1"``..``"S8"`` (training) or
    ``"TS1"``..``"TS6"`` (test); ``action`` is ``"Seq1"``/``"Seq2"`` or the test name again.
    """

    subject: str
    action: str
    camera_index: int
    keypoints_2d: np.ndarray
    positions_3d: np.ndarray
    image_size: tuple[int, int]
    fps: float
    valid: np.ndarray
    activity: np.ndarray | None = None
    camera: object = None  # no calibrated Camera: the files carry camera-frame 3D already

    @property
    def num_frames(self) -> int:
        return len(self.positions_3d)

    @property
    def action_group(self) -> str:
        return self.action

    @property
    def scene(self) -> str | None:
        return scene_of(self.subject)
