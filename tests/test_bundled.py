"""The bundled model: its checksum, loading by name, its self-check, lift without --checkpoint, the recipe."""
import json
import shutil

import numpy as np
import pytest

import starpose
from starpose.cli import build_parser, main
from starpose.commands.train import train_config
from starpose.errors import CheckpointError, StarposeError
from starpose.models import bundled
from starpose.train import bundle
from starpose.models.checkpoints import load_model, read_checkpoint
from starpose.train.recipes import RECIPES


def test_shipped_weights_match_their_manifest():
    manifest = bundled.read_manifest()
    path = bundled.weights_path()
    assert bundled.file_sha256(path) == manifest["sha256"]
    assert path.stat().st_size == manifest["bytes"] <= 4_000_000
    data = read_checkpoint(path)  # also verifies the payload checksum inside the file
    assert data["recipe"] == manifest["recipe"] == "bundled"
    assert data["starpose_version"] == manifest["starpose_version"]
    assert data["config"] == manifest["config"]
    assert manifest["training"] == {**RECIPES["bundled"].train, "data": RECIPES["bundled"].data}
    assert "optimizer" not in data  # weights only


def test_load_model_by_name_returns_the_bundled_star_mixste():
    model = starpose.load_model("bundled")
    config = bundled.read_manifest()["config"]
    assert model.config.attention == config["attention"] == "star"
    assert (model.num_frames, model.config.dim, model.config.num_joints) == (
        config["num_frames"], config["dim"], config["num_joints"])
    assert not model.training


def test_bundled_model_lifts_the_self_check_sequence_to_its_recorded_error(tiny_dataset_dir):
    check = bundled.read_manifest()["self_check"]
    assert (check["synth_preset"], check["seed"]) == ("tiny", 0)  # what tiny_dataset_dir holds
    mpjpe = bundle.self_check_mpjpe(load_model("bundled"), tiny_dataset_dir)
    assert mpjpe == pytest.approx(check["mpjpe_mm"], abs=check["tolerance_mm"])
    documented = bundled.read_manifest()["numbers"]["h36m_published"]["mpjpe"]
    assert mpjpe < 2.5 * documented  # the tiny set is of the same generator as the documented test set


def test_tampered_weights_are_refused(tmp_path, monkeypatch):
    shutil.copy(bundled.weights_path(), tmp_path / bundled.WEIGHTS_FILE)
    shutil.copy(bundled.WEIGHTS_DIR / bundled.MANIFEST_FILE, tmp_path / bundled.MANIFEST_FILE)
    monkeypatch.setattr(bundled, "WEIGHTS_DIR", tmp_path)
    assert load_model("bundled") is not None
    blob = bytearray((tmp_path / bundled.WEIGHTS_FILE).read_bytes())
    blob[len(blob) // 2] ^= 0xFF
    (tmp_path / bundled.WEIGHTS_FILE).write_bytes(bytes(blob))
    with pytest.raises(CheckpointError, match="do not match their checksum"):
        load_model("bundled")
    (tmp_path / bundled.MANIFEST_FILE).unlink()
    with pytest.raises(CheckpointError, match="reinstall starpose"):
        load_model("bundled")


def test_lift_without_checkpoint_uses_the_bundled_model(tmp_path, capsys):
    rng = np.random.default_rng(0)
    keypoints = (rng.normal(size=(40, 17, 2)) * 0.05 + 0.5).astype(np.float32) * [640, 480]
    np.save(tmp_path / "clip.npy", keypoints.astype(np.float32))
    out = tmp_path / "clip3d.npz"
    assert main(["lift", str(tmp_path / "clip.npy"), "--out", str(out), "--width", "640", "--height", "480"]) == 0
    err = capsys.readouterr().err
    assert "using the bundled model" in err
    with np.load(out) as result:
        assert result["positions_3d"].shape == (40, 17, 3) and np.isfinite(result["positions_3d"]).all()


def test_info_lists_the_bundled_model(capsys):
    assert main(["info"]) == 0
    out = capsys.readouterr().out
    assert "bundled model: star-mixste-27" in out and "checksum verified" in out


def test_train_recipe_bundled_sets_the_whole_recipe_and_refuses_contradictions():
    parser = build_parser()
    config = train_config(parser.parse_args(["train", "--recipe", "bundled", "--data-dir", "d", "--out", "o"]))
    for name, value in RECIPES["bundled"].train.items():
        assert getattr(config, name) == value, name
    same = train_config(parser.parse_args(["train", "--recipe", "bundled", "--data-dir", "d", "--out", "o",
                                           "--lr", "1e-3"]))
    assert same.lr == 1e-3
    with pytest.raises(StarposeError, match="--batch-size 8 conflicts with --recipe bundled"):
        train_config(parser.parse_args(["train", "--recipe", "bundled", "--data-dir", "d", "--out", "o",
                                        "--batch-size", "8"]))
    with pytest.raises(StarposeError, match="--dataset h36m"):
        train_config(parser.parse_args(["train", "--recipe", "bundled", "--dataset", "humaneva",
                                        "--data-dir", "d", "--out", "o"]))


def test_export_to_bundled_packages_a_checkpoint(tmp_path, capsys):
    out = tmp_path / "weights"
    assert main(["export", str(bundled.weights_path()), str(out), "--to", "bundled"]) == 0
    manifest = json.loads((out / bundled.MANIFEST_FILE).read_text())
    assert manifest["sha256"] == bundled.file_sha256(out / bundled.WEIGHTS_FILE)
    assert manifest["self_check"]["mpjpe_mm"] == pytest.approx(
        bundled.read_manifest()["self_check"]["mpjpe_mm"], abs=1e-3)
    bad = tmp_path / "eval.json"
    bad.write_text("{}")
    assert main(["export", str(bundled.weights_path()), str(out), "--to", "bundled", "--numbers", str(bad)]) == 2
    assert "not a `starpose evaluate --json` file" in capsys.readouterr().err
