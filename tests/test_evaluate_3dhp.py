"""The MPI-INF-3DHP evaluation: tables, valid-frame masking, cross-dataset joints, end to end."""
import dataclasses
import json

import numpy as np
import pytest

from starpose.inference.predictors import predict_windows
import torch

from starpose.datasets.registry import DEFAULT_DATASET, get_dataset, recorded_dataset
from starpose.datasets.mpi_inf_3dhp.layout import LOSS_JOINT_WEIGHTS, MPI_3DHP_17, SCENES
from starpose.data.windows import TrainWindows
from starpose.errors import CheckpointError
from starpose.datasets.mpi_inf_3dhp.report import (
    check_model_fits, format_report, report, validation_metrics)
from starpose.train.loss import mixste_loss
from starpose.models.mixste import MixSTE
from starpose.models.presets import get_preset


def _tiny_model(seed=0, joints=17):
    torch.manual_seed(seed)
    config = dataclasses.replace(get_preset("star-mixste-27").model, num_frames=27, dim=32,
                                 depth=2, num_heads=2, num_joints=joints)
    return MixSTE.from_config(config)


@pytest.fixture(scope="module")
def test_sequences(tiny_3dhp_dir):
    ds = get_dataset("3dhp")
    return ds.load(tiny_3dhp_dir, "gt", ds.subjects_test)


def test_report_tables_and_weights(test_sequences):
    result = report(_tiny_model(), test_sequences, predict=predict_windows)
    json.dumps(result, allow_nan=False)  # JSON-able as it is
    assert list(result["sequences"]) == [f"TS{k}" for k in range(1, 7)]
    valid = {s.subject: int(s.valid.sum()) for s in test_sequences}
    assert {k: r["frames"] for k, r in result["sequences"].items()} == valid
    assert result["overall"]["frames"] == sum(valid.values())
    for scene, members in SCENES.items():
        rows = [result["sequences"][m] for m in members]
        expected = sum(r["mpjpe"] * r["frames"] for r in rows) / sum(r["frames"] for r in rows)
        assert result["scenes"][scene]["mpjpe"] == pytest.approx(expected)
    assert sum(r["frames"] for r in result["activities"].values()) == result["overall"]["frames"]
    assert result["joints_excluded"] == [] and len(result["pck_joints"]) == 14
    text = format_report(result)
    assert "| **Overall** |" in text and "| *outdoor* |" in text and "### By activity" in text


def test_invalid_frames_do_not_count(test_sequences):
    model = _tiny_model()
    corrupted, test_sequences = [], test_sequences[::4]  # TS1 and TS5
    for s in test_sequences:
        pose = s.positions_3d.copy()
        pose[~s.valid] += 5.0  # 5 m off, on invalid frames only
        corrupted.append(dataclasses.replace(s, positions_3d=pose))
    clean = report(model, test_sequences, predict=predict_windows)
    assert report(model, corrupted, predict=predict_windows) == clean
    everything = [dataclasses.replace(s, valid=np.ones_like(s.valid)) for s in corrupted]
    assert report(model, everything, predict=predict_windows)["overall"]["mpjpe"] > clean["overall"]["mpjpe"] + 100


def test_cross_dataset_excludes_the_head_and_says_so(test_sequences):
    result = report(_tiny_model(), test_sequences[:2], predict=predict_windows, source="h36m")
    assert result["joints_excluded"] == ["head"] and len(result["joints_compared"]) == 16
    assert "excluded from the metrics (no counterpart): head" in format_report(result)
    assert recorded_dataset({"model": {}}, DEFAULT_DATASET) == "h36m"
    assert recorded_dataset({"train_config": {"dataset": "3dhp"}}, DEFAULT_DATASET) == "3dhp"


def test_wrong_joint_count_is_a_checkpoint_error():
    with pytest.raises(CheckpointError, match="ckpt.pt: the model takes 15 joints"):
        check_model_fits(_tiny_model(joints=15), "3dhp", "ckpt.pt")


def test_short_training_improves_the_3dhp_numbers(tiny_3dhp_dir, test_sequences):
    """End to end through the library: train a tiny model on the synthetic training file with the
    3DHP flip lists and uniform weights, then evaluate it on the test file."""
    train = get_dataset("3dhp").load(tiny_3dhp_dir, "gt", ["S1"])
    test_sequences = test_sequences[::4]  # TS1 and TS5
    windows = TrainWindows([s.keypoints_2d for s in train], [s.positions_3d for s in train],
                           frames=27, skeleton=MPI_3DHP_17, seed=0)
    model = _tiny_model()
    before = validation_metrics(model, test_sequences, predict=predict_windows)
    optimizer = torch.optim.AdamW(model.parameters(), lr=2e-3)
    model.train()
    for epoch in range(2):
        for inputs, targets in windows.epoch_batches(32, as_torch=True):
            optimizer.zero_grad()
            mixste_loss(model(inputs), targets, weights=LOSS_JOINT_WEIGHTS).total.backward()
            optimizer.step()
    after = validation_metrics(model, test_sequences, predict=predict_windows)
    assert after["mpjpe"] < 0.7 * before["mpjpe"]
    assert after["pck"] > before["pck"]
