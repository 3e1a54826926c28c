"""MPI-INF-3DHP assembled: the :class:`~starpose.data.dataset.Dataset` that ``--dataset 3dhp`` names."""
from __future__ import annotations

from starpose.data.dataset import Dataset
from starpose.datasets.mpi_inf_3dhp.layout import (CAMERAS_TRAIN, FILE_TEST, FILE_TRAIN, LOSS_JOINT_WEIGHTS, MPI_3DHP_17,
                                                   ROOT, SUBJECTS_TRAIN, TEST_IMAGE_SIZES, TEST_SEQUENCES,
                                                   TRAIN_IMAGE_SIZE)
from starpose.datasets.registry import register


def _load(data_dir, keypoints, subjects):
    from starpose.datasets.mpi_inf_3dhp.files import load_3dhp

    return load_3dhp(data_dir, keypoints, subjects)


def _report(model, sequences, *, predict, flip=True, batch_size=64, amp=None, trained_on="3dhp",
            **_published_options):
    """The evaluation hook of :class:`Dataset`: the official tables (sequence, overall, scene,
    activity) as ``(json_result, text)``; the published protocol's options do not apply."""
    from starpose.datasets.mpi_inf_3dhp.report import format_report, report

    result = report(model, sequences, predict=predict, source=trained_on, flip=flip, batch_size=batch_size, amp=amp)
    return result, format_report(result)


def _validation_mpjpe(model, sequences, *, predict, batch_size=64, amp=None, skeleton=None) -> float:
    """The validation hook: MPJPE (mm) of the overall row, which picks ``best.pt``."""
    from starpose.datasets.mpi_inf_3dhp.report import validation_metrics

    return validation_metrics(model, sequences, predict=predict, batch_size=batch_size, amp=amp)["mpjpe"]


def _synthesize(out_dir, preset="tiny", seed=0, progress=None):
    from starpose.datasets.mpi_inf_3dhp.synthetic import generate_3dhp

    return generate_3dhp(out_dir, preset, seed, progress=progress)

def _dataset():
    sizes = {camera: TRAIN_IMAGE_SIZE for camera in CAMERAS_TRAIN} | TEST_IMAGE_SIZES
    return register(Dataset(
        name="3dhp", title="MPI-INF-3DHP", skeleton=MPI_3DHP_17, root=ROOT, fps=25.0,
        image_sizes=sizes, subjects_train=SUBJECTS_TRAIN, subjects_test=TEST_SEQUENCES,
        loss_joint_weights=LOSS_JOINT_WEIGHTS, file_3d=FILE_TRAIN, file_2d=FILE_TEST,
        load=_load, action_group=lambda action: action, synthesize=_synthesize,
        synth_presets=("tiny", "small", "full"), evaluate_report=_report,
        validation_metric=_validation_mpjpe))


#: The MPI-INF-3DHP description read by the pipelines (see :mod:`starpose.datasets.registry`).
MPI_INF_3DHP = _dataset()
