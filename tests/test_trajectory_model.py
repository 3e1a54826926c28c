"""The trajectory model: its loss formula, shapes, the decoding of depth and offset, and the
bundled weights (checksum, manifest, and the held-out accuracy they claim, recomputed)."""
import json

import numpy as np
import pytest
import torch

from starpose.errors import CheckpointError
from starpose.models.trajectory import (TrajectoryConfig, TrajectoryNet, decode_root,
                                        inverse_depth_loss, predict_root, ray_features)
from starpose.models.trajectory_weights import (bundled_trajectory_path, load_trajectory_model,
                                                save_trajectory_model)
from starpose.train.trajectory import evaluate_roots, root_samples, train_steps


def test_inverse_depth_loss_by_hand():
    truth = torch.tensor([[0.0, 0, 2], [0, 0, 10]])
    pred = truth + torch.tensor([[0.1, 0, 0], [0, 0.5, 0]])
    # (0.1 / 2 + 0.5 / 10) / 2
    assert float(inverse_depth_loss(pred, truth)) == pytest.approx(0.05)


def test_shapes_receptive_field_and_decoding():
    config = TrajectoryConfig(channels=16, blocks=3)
    assert config.receptive_field == 27
    model = TrajectoryNet(config)
    rays = torch.randn(2, 40, 17, 2) * 0.1
    features, scale, pelvis = ray_features(rays)
    assert features.shape == (2, 40, 37)
    assert model(features).shape == (2, 40 - 26, 3)
    raw = torch.tensor([[np.log(1.5), 0.01, -0.02]])
    root = decode_root(raw, torch.tensor([0.25]), torch.tensor([[0.1, 0.2]]))
    assert root[0].tolist() == pytest.approx([0.11 * 6, 0.18 * 6, 6.0])  # z = 1.5 / 0.25
    assert predict_root(model.eval(), rays[0].numpy()).shape == (40, 3)


def test_training_lowers_the_loss_and_weights_round_trip(tmp_path):
    torch.manual_seed(0)
    samples = root_samples("tiny", 0, ("S1",))[:20]
    model = TrajectoryNet(TrajectoryConfig(channels=32))
    before = evaluate_roots(model, samples)["root_per_distance"]
    log = train_steps(model, samples, steps=60, minutes=5, batch=16)
    after = evaluate_roots(model, samples)["root_per_distance"]
    assert log["steps"] == 60 and after < 0.5 * before
    manifest = save_trajectory_model(model, tmp_path / "t.npz", {"note": "test"})
    (tmp_path / "t.json").write_text(json.dumps(manifest))
    again = load_trajectory_model(tmp_path / "t.npz")
    rays = samples[0].rays.astype(np.float64)
    assert np.allclose(predict_root(again, rays), predict_root(model, rays))
    with open(tmp_path / "t.npz", "r+b") as fh:  # one flipped byte
        fh.seek(200)
        byte = fh.read(1)
        fh.seek(200)
        fh.write(bytes([byte[0] ^ 1]))
    with pytest.raises(CheckpointError, match="checksum"):
        load_trajectory_model(tmp_path / "t.npz")


def test_the_bundled_weights_hold_what_their_manifest_says():
    path = bundled_trajectory_path()
    assert path is not None, "starpose/weights/trajectory.npz is missing"
    manifest = json.loads(path.with_suffix(".json").read_text())
    model = load_trajectory_model(path)
    assert manifest["data"]["cameras"] == "varied" and manifest["data"]["test_subjects"] == ["S9", "S11"]
    claimed = manifest["numbers"]["held_out"]["root_per_distance"]
    assert claimed < 0.08
    # Recomputed on held-out S9 of the tiny varied set (other takes than the manifest's).
    measured = evaluate_roots(model, root_samples("tiny", 0, ("S9",)))["root_per_distance"]
    assert measured < 1.5 * claimed
