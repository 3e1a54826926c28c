"""The bundled model: its checksum, loading by name, its self-check, lift without --checkpoint, the recipe."""
import json
import shutil

import numpy as np
import torch
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
    # The model of the recipe: rays lifted in the view frame, started from the first bundled model.
    assert manifest["config"]["input_norm"] == RECIPES["bundled"].train["input_norm"] == "view"
    assert manifest["starts_from"]["recipe"] == RECIPES["bundled"].starts_from == "bundled-v1"
    assert manifest["starts_from"]["sha256"].startswith("sha256:")


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


def _lift_npy(tmp_path, name, pixels, size, *extra):
    np.save(tmp_path / f"{name}.npy", pixels.astype(np.float32))
    out = tmp_path / f"{name}.npz"
    assert main(["lift", str(tmp_path / f"{name}.npy"), "--out", str(out), "--width", str(size[0]),
                 "--height", str(size[1]), "--no-world", *extra]) == 0
    with np.load(out) as result:
        return result["positions_3d"]


def _walker(frames=60, seed=0):
    """A person walking in place, (T, 17, 2) pixels of a 1000x1002 frame, centred."""
    rng = np.random.default_rng(seed)
    body = np.stack([np.linspace(-60, 60, 17), np.linspace(-220, 220, 17)], -1)
    return 500 + body[None] + np.cumsum(rng.normal(0, 2, (frames, 1, 2)), 0)


def test_bundled_model_gives_the_same_pose_for_one_lens_at_any_resolution(tmp_path):
    person = _walker()
    # The same lens (60 degrees on the long side) writing a 1000x1002 and a 4000x4008 picture.
    small = _lift_npy(tmp_path, "a", person, (1000, 1002), "--fov", "60")
    large = _lift_npy(tmp_path, "b", person * 4, (4000, 4008), "--fov", "60")
    np.testing.assert_allclose(small, large, atol=1e-5)


def test_a_person_at_the_edge_of_the_picture_is_lifted_as_in_its_middle_turned(tmp_path):
    from starpose.models.view_frame import view_rotation

    focal = 960 / np.tan(np.radians(35))  # a phone's 70 degrees, 1920x1080
    centre = np.array([960.0, 540.0])
    person = _walker() - 500 + centre
    # Turn the camera about its centre by 25 degrees: the person moves to the edge of the picture.
    angle = np.radians(25)
    turn = np.array([[np.cos(angle), 0, np.sin(angle)], [0, 1, 0], [-np.sin(angle), 0, np.cos(angle)]])
    rays = np.concatenate([(person - centre) / focal, np.ones(person.shape[:2] + (1,))], -1) @ turn.T
    edge = rays[..., :2] / rays[..., 2:] * focal + centre
    assert edge[..., 0].mean() > 1300
    middle = _lift_npy(tmp_path, "middle", person, (1920, 1080))
    moved = _lift_npy(tmp_path, "edge", edge, (1920, 1080))
    R = view_rotation(torch.from_numpy((edge - centre) / focal)[None].float())[0].numpy()
    np.testing.assert_allclose(R[:, 2], turn[:, 2], atol=0.02)  # the view looks where the person went
    # The same pose, turned by the camera's turn: a few mm (the two views are not quite the same
    # picture: the box centre is not where a turned box centre lands).
    turned = middle @ turn.T
    assert np.abs(moved - turned).max() < 0.01
    assert np.linalg.norm(moved - turned, axis=-1).mean() < 0.003
    assert np.linalg.norm(moved - middle, axis=-1).mean() > 0.05  # and the turn is not nothing


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
    base = ["train", "--recipe", "bundled", "--data-dir", "d", "--out", "o", "--init-from", "v1.pt"]
    config = train_config(parser.parse_args(base))
    for name, value in RECIPES["bundled"].train.items():
        assert getattr(config, name) == value, name
    assert config.init_from == "v1.pt"
    lr = RECIPES["bundled"].train["lr"]
    same = train_config(parser.parse_args(base + ["--lr", str(lr)]))
    assert same.lr == lr
    with pytest.raises(StarposeError, match="--batch-size 8 conflicts with --recipe bundled"):
        train_config(parser.parse_args(base + ["--batch-size", "8"]))
    with pytest.raises(StarposeError, match="--input-norm screen conflicts with --recipe bundled"):
        train_config(parser.parse_args(base + ["--input-norm", "screen"]))
    with pytest.raises(StarposeError, match="--dataset h36m"):
        train_config(parser.parse_args(base + ["--dataset", "humaneva"]))
    with pytest.raises(StarposeError, match="give its weights with --init-from"):
        train_config(parser.parse_args(base[:-2]))
    v1 = train_config(parser.parse_args(["train", "--recipe", "bundled-v1", "--data-dir", "d", "--out", "o"]))
    assert (v1.epochs, v1.max_batches_per_epoch, v1.lr, v1.input_norm) == (24, 200, 1e-3, None)


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
