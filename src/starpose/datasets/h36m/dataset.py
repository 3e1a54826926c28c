"""Human3.6M assembled: the :class:`~starpose.data.dataset.Dataset` that ``--dataset h36m`` names."""
from __future__ import annotations

from starpose.data.dataset import Dataset
from starpose.data.skeleton import H36M_17, H36M_FPS
from starpose.datasets.h36m.files import FILE_3D, load_h36m
from starpose.datasets.h36m.layout import H36M_JOINT_WEIGHTS, IMAGE_SIZES, SUBJECTS_TEST, SUBJECTS_TRAIN
from starpose.datasets.registry import register


def _load(data_dir, keypoints, subjects):
    return load_h36m(data_dir, keypoints, subjects)


def _synthesize(out_dir, preset="small", seed=0, progress=None, cameras="h36m"):
    from starpose.datasets.h36m.synthetic import generate_dataset

    return generate_dataset(out_dir, preset, seed, progress, cameras=cameras)


def _h36m_dataset():
    return register(Dataset(
        name="h36m", title="Human3.6M", skeleton=H36M_17, root=0, fps=H36M_FPS,
        image_sizes=dict(IMAGE_SIZES), subjects_train=SUBJECTS_TRAIN, subjects_test=SUBJECTS_TEST,
        loss_joint_weights=H36M_JOINT_WEIGHTS, file_3d=FILE_3D, file_2d="data_2d_h36m_{name}.npz",
        load=_load, synthesize=_synthesize, synth_presets=("small", "tiny", "h36m-size"),
        h36m_joints=tuple(range(H36M_17.num_joints)), layout_name="h36m",
        extra={"synth_cameras": ("h36m", "varied")}))


#: The Human3.6M description read by the pipelines (see :mod:`starpose.datasets.registry`).
H36M = _h36m_dataset()
