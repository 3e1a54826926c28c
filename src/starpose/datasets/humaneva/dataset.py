"""HumanEva-I assembled: the :class:`~starpose.data.dataset.Dataset` that ``--dataset humaneva`` names."""
from __future__ import annotations

from starpose.data.dataset import Dataset, name_prefix
from starpose.datasets.humaneva.files import (FILE_2D, FILE_3D, HUMANEVA_15, JOINTS_FROM_H36M_17, LAYOUT_NAME,
                                              humaneva_metadata, load_humaneva)
from starpose.datasets.registry import register


def _synthesize(out_dir, preset="small", seed=0, progress=None):
    from starpose.datasets.humaneva.synthetic import generate_dataset

    return generate_dataset(out_dir, preset, seed, progress)


def _humaneva_dataset():
    meta = humaneva_metadata()
    protocol = meta["protocol"]
    width, height = meta["resolution"]
    return register(Dataset(
        name="humaneva", title="HumanEva-I", skeleton=HUMANEVA_15, root=0, fps=float(meta["fps"]),
        image_sizes={cam["id"]: (int(width), int(height)) for cam in meta["cameras"]},
        subjects_train=tuple(protocol["subjects_train"]), subjects_test=tuple(protocol["subjects_test"]),
        loss_joint_weights=tuple(float(w) for w in meta["mixste_loss_joint_weights_15"]),
        file_3d=FILE_3D, file_2d=FILE_2D, load=load_humaneva,
        actions_evaluated=tuple(protocol["actions_evaluated"]), action_filter=name_prefix,
        synthesize=_synthesize, synth_presets=("small", "tiny", "full"),
        h36m_joints=JOINTS_FROM_H36M_17, layout_name=LAYOUT_NAME))


#: The HumanEva-I description read by the pipelines (see :mod:`starpose.datasets.registry`).
HUMANEVA = _humaneva_dataset()
