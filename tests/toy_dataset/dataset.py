"""A toy benchmark in a folder of its own: five joints, three subjects, tiny generated arrays.

It is what docs/architecture.md "Adding a dataset" describes, done from outside the package:
a :class:`starpose.data.dataset.Dataset` whose loader reads two small ``.npz`` files (written by
its ``synthesize`` hook), registered with :func:`starpose.datasets.registry.register` when this
module is imported; ``register_provider("toy", "tests.toy_dataset.dataset")`` names the module.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from starpose.data.dataset import Dataset
from starpose.data.skeleton import Skeleton
from starpose.datasets.registry import register
from starpose.errors import DataError

FILE_3D = "toy_3d.npz"
FILE_2D = "toy_2d_{name}.npz"
SUBJECTS = ("A", "B", "C")
ACTIONS = ("Wave 1", "Wave 2", "Stretch 1")
FRAMES = 40
#: pelvis (root) <- spine <- head, and both hands on the spine.
SKELETON = Skeleton(parents=(-1, 0, 1, 1, 1), joints_left=(3,), joints_right=(4,),
                    names=("Pelvis", "Spine", "Head", "LHand", "RHand"))
_REST = np.array([[0, 0, 0], [0, -0.5, 0], [0, -0.8, 0], [-0.4, -0.4, 0], [0.4, -0.4, 0]], np.float32)


@dataclass(frozen=True, eq=False)
class ToySequence:
    """One take: ``keypoints_2d`` (T, 5, 2) normalised image coordinates, ``positions_3d``
    (T, 5, 3) metres in the camera frame (joint 0 the root's trajectory, the others relative to it)."""

    subject: str
    action: str
    keypoints_2d: np.ndarray
    positions_3d: np.ndarray

    @property
    def num_frames(self) -> int:
        return len(self.positions_3d)

    @property
    def action_group(self) -> str:
        return self.action.split(" ", 1)[0]


def _take(seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``(keypoints_2d (T, 5, 2), positions_3d (T, 5, 3))`` of one generated take."""
    rng = np.random.default_rng(seed)
    t = np.arange(FRAMES)[:, None] / 25.0
    speed, phase = rng.uniform(2.0, 4.0), rng.uniform(0, 2 * np.pi)
    poses = np.broadcast_to(_REST, (FRAMES, 5, 3)).copy()
    poses[:, 3, 1] += 0.3 * np.sin(speed * t[:, 0] + phase)
    poses[:, 4, 1] += 0.3 * np.cos(speed * t[:, 0] + phase)
    poses[:, 3:, 2] += 0.1 * np.sin(speed * t)
    root = np.concatenate([0.2 * np.sin(t), np.zeros_like(t), 4.0 + 0.1 * t], axis=1)
    absolute = poses + root[:, None]
    keypoints = absolute[..., :2] / absolute[..., 2:]  # a pinhole camera of focal length 1
    poses[:, 0] = root
    return keypoints.astype(np.float32), poses.astype(np.float32)


def synthesize(out_dir, preset="tiny", seed=0, progress=None) -> dict:
    """Write ``toy_3d.npz`` and ``toy_2d_gt.npz`` (arrays keyed ``subject/action``) into ``out_dir``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    takes = {f"{s}/{a}": _take(seed * 1000 + i) for i, (s, a) in
             enumerate((s, a) for s in SUBJECTS for a in ACTIONS)}
    paths = {"3d": out / FILE_3D, "gt": out / FILE_2D.format(name="gt")}
    np.savez(paths["3d"], **{key: pose for key, (_, pose) in takes.items()})
    np.savez(paths["gt"], **{key: kp for key, (kp, _) in takes.items()})
    return paths


def load(data_dir, keypoints, subjects=None) -> list[ToySequence]:
    """The takes of ``subjects`` (None: all) from ``data_dir``."""
    path_3d, path_2d = Path(data_dir) / FILE_3D, Path(data_dir) / FILE_2D.format(name=keypoints)
    for path in (path_3d, path_2d):
        if not path.is_file():
            raise DataError(f"{path}: no such file")
    with np.load(path_3d) as poses, np.load(path_2d) as points:
        return [ToySequence(*key.split("/"), points[key], poses[key]) for key in poses.files
                if subjects is None or key.split("/")[0] in subjects]


TOY = register(Dataset(
    name="toy", title="Toy", skeleton=SKELETON, root=0, fps=25.0, image_sizes={"cam": (1000, 1000)},
    subjects_train=("A", "B"), subjects_test=("C",), loss_joint_weights=(1.0, 1.0, 1.0, 1.5, 1.5),
    file_3d=FILE_3D, file_2d=FILE_2D, load=load, synthesize=synthesize, synth_presets=("tiny",)))
