"""Which dataset's joints a lift or a render works in (:class:`starpose.datasets.registry.Dataset`).

``starpose lift`` takes them from ``--dataset``, else from what the model records (a starpose
checkpoint's training configuration, an ONNX export's ``dataset`` entry: see
:func:`starpose.datasets.registry.recorded_dataset`), else from the model's
joint count (a published checkpoint: 17 joints is Human3.6M, 15 HumanEva-I). ``starpose render``
takes them from ``--dataset``, else from the result's ``joint_names``, else from its joint count.
"""
from __future__ import annotations

from starpose.data.dataset import Dataset

from starpose.datasets.registry import dataset_for_joints, dataset_names, get_dataset
from starpose.errors import DataError, StarposeError


def lift_dataset(name: str | None, recorded: str | None, num_joints: int, source) -> Dataset:
    """The dataset of a model of ``num_joints`` joints read from ``source``: ``name`` (the
    dataset asked for, which must agree with a known ``recorded`` one), else ``recorded``, else
    the one of its joint count. :class:`StarposeError` naming ``source`` when none fits."""
    known = recorded if recorded in dataset_names() else None
    if name is not None and known is not None and known != name:
        raise StarposeError(f"{source}: the model was trained on {get_dataset(known).title} "
                            f"({known}), not {get_dataset(name).title} ({name})")
    dataset = get_dataset(name or known) if (name or known) else dataset_for_joints(num_joints)
    if dataset is None:
        raise StarposeError(f"{source}: the model lifts {num_joints} joints, the layout of no known "
                            f"dataset ({_layouts()})")
    if dataset.num_joints != num_joints:
        raise StarposeError(f"{source}: the model lifts {num_joints} joints, but {dataset.title} "
                            f"keypoints have {dataset.num_joints}")
    return dataset


def result_dataset(result: dict, name: str | None, source) -> Dataset:
    """The dataset of a lifted result (:func:`starpose.lift.read_result`): ``name`` (the dataset
    asked for), else the one its joint names or its joint count belong to."""
    joints = result["positions_3d"].shape[1]
    if name is not None:
        dataset = get_dataset(name)
        if dataset.num_joints != joints:
            raise DataError(f"{source}: {joints} joints per frame, but {dataset.title} has "
                            f"{dataset.num_joints}")
        return dataset
    dataset = dataset_for_joints(joints, result.get("joint_names") or ())
    if dataset is None:
        raise DataError(f"{source}: {joints} joints per frame, the layout of no known dataset "
                        f"({_layouts()})")
    return dataset


def _layouts() -> str:
    """``h36m: 17 joints, humaneva: 15 joints, ...``."""
    return ", ".join(f"{n}: {get_dataset(n).num_joints} joints" for n in dataset_names())
