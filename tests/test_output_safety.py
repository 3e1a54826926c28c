"""Outputs never overwrite inputs or checkpoints; bad output names fail before any work;
published-layout exports keep the head count."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from starpose import save_checkpoint
from starpose.cli import main
from starpose.errors import CheckpointError, StarposeWarning
from starpose.models.checkpoints import load_model
from starpose.models.mixste import MixSTE


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("safety")
    torch.manual_seed(0)
    model = MixSTE(num_frames=9, dim=16, depth=1, num_heads=4).eval()
    xy = np.random.default_rng(0).uniform(100, 900, size=(20, 17, 2)).astype(np.float32)
    np.save(tmp / "walk.npy", xy)
    return {"ckpt": save_checkpoint(tmp / "m.pt", model), "input": tmp / "walk.npy", "model": model}


def _lift(setup, out, *extra):
    return main(["lift", str(setup["input"]), "--checkpoint", str(setup["ckpt"]), "--out", str(out),
                 "--width", "1000", "--height", "1000", *extra])


def test_lift_refuses_to_overwrite_input_or_checkpoint(setup, capsys):
    before = setup["input"].read_bytes()
    assert _lift(setup, setup["input"]) == 2  # .npy is not a result extension, nor a folder
    assert setup["input"].read_bytes() == before
    assert "--out takes a file ending in .npz, .json, .csv or .bvh" in capsys.readouterr().err
    npz = setup["input"].with_name("walk_kp.npz")
    np.savez(npz, keypoints=np.load(setup["input"]))
    before = npz.read_bytes()
    assert main(["lift", str(npz), "--checkpoint", str(setup["ckpt"]), "--out", str(npz),
                 "--width", "1000", "--height", "1000"]) == 2
    assert "is also an input" in capsys.readouterr().err and npz.read_bytes() == before
    assert _lift(setup, setup["ckpt"].with_suffix(".npz")) == 0  # a different file is fine


def test_lift_out_format_conflict_and_unsupported_extension(setup, tmp_path, capsys):
    assert _lift(setup, tmp_path / "a.npz", "--out-format", "json") == 2
    assert "conflicts" in capsys.readouterr().err
    assert _lift(setup, tmp_path / "result.npy") == 2
    assert not (tmp_path / "result.npy").exists() and not list(tmp_path.iterdir())


def test_export_onto_its_input_is_refused(setup, capsys):
    before = setup["ckpt"].read_bytes()
    assert main(["export", str(setup["ckpt"]), str(setup["ckpt"]), "--to", "mixste"]) == 2
    assert "is also an input" in capsys.readouterr().err
    assert setup["ckpt"].read_bytes() == before


def test_output_in_unwritable_place_fails_first(setup, tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert _lift(setup, blocker / "sub" / "r.npz") == 2
    assert "is not a folder" in capsys.readouterr().err


def test_vanilla_export_keeps_head_count(setup, tmp_path):
    torch.manual_seed(1)
    model = MixSTE(num_frames=9, dim=16, depth=1, num_heads=4, attention="vanilla").eval()
    ckpt = save_checkpoint(tmp_path / "v.pt", model)
    assert main(["export", str(ckpt), str(tmp_path / "v.bin"), "--to", "mixste"]) == 0
    loaded = load_model(tmp_path / "v.bin")
    assert loaded.config.num_heads == 4
    x = torch.randn(2, 9, 17, 2)
    torch.testing.assert_close(loaded(x), model(x))
    data = torch.load(tmp_path / "v.bin", weights_only=True)
    del data["starpose_config"]  # as the published code writes it
    torch.save(data, tmp_path / "published.bin")
    with pytest.warns(StarposeWarning, match="assuming 8 heads"):
        assert load_model(tmp_path / "published.bin").config.num_heads == 8
    with pytest.raises(CheckpointError, match="3 heads do not divide the model width 16"):
        load_model(tmp_path / "published.bin", num_heads=3)


def test_lift_num_heads_option_one_line_error(setup, tmp_path, capsys):
    torch.manual_seed(1)
    model = MixSTE(num_frames=9, dim=16, depth=1, num_heads=4, attention="vanilla").eval()
    ckpt = save_checkpoint(tmp_path / "v.pt", model)
    main(["export", str(ckpt), str(tmp_path / "v.bin"), "--to", "mixste"])
    data = torch.load(tmp_path / "v.bin", weights_only=True)
    del data["starpose_config"]
    torch.save(data, tmp_path / "p.bin")
    code = main(["lift", str(setup["input"]), "--checkpoint", str(tmp_path / "p.bin"), "--out",
                 str(tmp_path / "r.npz"), "--width", "1000", "--height", "1000", "--num-heads", "3"])
    assert code == 2 and "heads do not divide" in capsys.readouterr().err
