"""A dataset added from outside the package (docs/architecture.md, "Adding a dataset"): the toy
benchmark of tests/toy_dataset/ is registered by name, then synthesised, trained two steps and
evaluated through the same code paths as the built-in datasets."""
import json
import sys

import numpy as np
import pytest

from starpose.cli import main
from starpose.datasets import registry
from starpose.models.checkpoints import read_checkpoint
from starpose.train.loop import TrainConfig, Trainer

MODULE = "tests.toy_dataset.dataset"
SMALL = ["--frames", "9", "--batch-size", "4", "--epochs", "1", "--max-batches-per-epoch", "2"]


@pytest.fixture
def toy(monkeypatch):
    """The toy dataset registered for one test, and forgotten afterwards."""
    monkeypatch.setattr(registry, "PROVIDERS", dict(registry.PROVIDERS))
    registry.register_provider("toy", MODULE)
    yield registry.get_dataset("toy")
    registry._REGISTRY.pop("toy", None)
    sys.modules.pop(MODULE, None)


@pytest.fixture
def toy_dir(toy, tmp_path, capsys):
    assert main(["synth", "--dataset", "toy", "--preset", "tiny", "--out", str(tmp_path / "data")]) == 0
    assert "toy_3d.npz" in capsys.readouterr().out
    return tmp_path / "data"


def test_registering_a_provider_makes_the_name_known(toy):
    assert toy.name == "toy" and toy.num_joints == 5 and toy.title == "Toy"
    assert registry.dataset_names()[-1] == "toy"
    assert "h36m" in registry.dataset_names()  # the built-in ones stay


def test_the_library_trains_two_steps_on_the_toy_dataset(toy_dir, tmp_path):
    steps = []
    config = TrainConfig(data_dir=str(toy_dir), out=str(tmp_path / "run"), dataset="toy",
                         model_overrides={"num_frames": 9, "dim": 16, "depth": 1, "num_heads": 2},
                         epochs=1, batch_size=4, max_batches_per_epoch=2, progress=False)
    trainer = Trainer(config, on_batch_end=lambda epoch, batch: steps.append((epoch, batch)))
    before = {k: v.clone() for k, v in trainer.model.state_dict().items()}
    rows = trainer.fit()
    assert steps == [(0, 1), (0, 2)]  # (epochs done, batches done in this epoch)
    assert [s.subject for s in trainer.test_sequences] == ["C"] * 3
    assert np.isfinite(rows[0]["val_mpjpe"])
    changed = [k for k, v in trainer.model.state_dict().items() if not np.array_equal(v, before[k])]
    assert changed, "two optimiser steps left every weight as it was"
    checkpoint = read_checkpoint(tmp_path / "run" / "last.pt")
    assert checkpoint["config"]["num_joints"] == 5
    assert checkpoint["train_config"]["dataset"] == "toy"


def test_the_command_line_trains_and_evaluates_the_toy_dataset(toy_dir, tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", "--dataset", "toy", "--data-dir", str(toy_dir), "--out", str(run),
                 "--no-progress", *SMALL]) == 0
    assert json.loads((run / "config.json").read_text())["dataset"] == "toy"
    report = tmp_path / "toy.json"
    assert main(["evaluate", "--dataset", "toy", "--data-dir", str(toy_dir), "--checkpoint",
                 str(run / "best.pt"), "--json", str(report)]) == 0
    result = json.loads(report.read_text())
    assert result["dataset"] == "toy" and result["subjects"] == ["C"]
    assert result["actions"] == ["Stretch", "Wave"]
