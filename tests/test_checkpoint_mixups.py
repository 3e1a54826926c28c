"""A checkpoint option given the wrong thing: a head count that contradicts the file, an ONNX
export, a text file. Each is one line naming the file and what it is; nothing is ignored."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from starpose.cli import main
from starpose.errors import CheckpointError
from starpose.models.checkpoints import load_model, save_checkpoint
from starpose.models.file_kind import describe_file
from starpose.models.mixste import MixSTE


@pytest.fixture(scope="module")
def four_heads(tmp_path_factory):
    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("heads")
    return save_checkpoint(folder / "h4.pt", MixSTE(num_frames=9, dim=24, depth=1, num_heads=4).eval())


@pytest.mark.parametrize("attention", ["star", "vanilla"])
def test_a_head_count_that_contradicts_the_checkpoint_is_refused(tmp_path, attention, capsys):
    torch.manual_seed(0)
    ckpt = save_checkpoint(tmp_path / "m.pt", MixSTE(num_frames=9, dim=24, depth=1, num_heads=4,
                                                     attention=attention).eval())
    code = main(["evaluate", "--checkpoint", str(ckpt), "--data-dir", str(tmp_path / "absent"),
                 "--num-heads", "3"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1
    assert "records 4 attention heads; --num-heads 3 contradicts it" in err
    assert load_model(ckpt, num_heads=4).config.num_heads == 4  # agreeing is fine


def test_lift_refuses_the_contradicting_head_count_too(four_heads, tmp_path, capsys):
    np.save(tmp_path / "kp.npy", np.full((20, 17, 2), 500, dtype=np.float32))
    code = main(["lift", str(tmp_path / "kp.npy"), "--checkpoint", str(four_heads), "--out",
                 str(tmp_path / "r.npz"), "--width", "1000", "--height", "1000", "--num-heads", "2"])
    assert code == 2 and "--num-heads 2 contradicts it" in capsys.readouterr().err
    assert not (tmp_path / "r.npz").exists()


def test_an_onnx_export_as_checkpoint_points_to_the_onnx_runtime(four_heads, tmp_path, capsys):
    from starpose.models.onnx_export import export_onnx

    onnx = export_onnx(load_model(four_heads), tmp_path / "m.onnx")
    renamed = tmp_path / "model.pt"  # the extension does not decide: the bytes do
    renamed.write_bytes(onnx.read_bytes())
    for path in (onnx, renamed):
        code = main(["evaluate", "--checkpoint", str(path), "--data-dir", str(tmp_path)])
        err = capsys.readouterr().err
        assert code == 2 and err.count("\n") == 1
        assert f"{path}: is an ONNX model, not a PyTorch checkpoint" in err
        assert f"--runtime onnx --model {path}" in err


@pytest.mark.parametrize("content, kind", [
    (b"epoch 1 loss 0.3\nepoch 2 loss 0.2\n", "a text file (first line: 'epoch 1 loss 0.3')"),
    (b'{"dataset": "h36m"}', "a JSON file"),
    (b"", "an empty file"),
])
def test_a_text_file_as_checkpoint_is_named_as_such(tmp_path, content, kind, capsys):
    path = tmp_path / "best.pt"
    path.write_bytes(content)
    with pytest.raises(CheckpointError, match="not a readable PyTorch checkpoint: it is "):
        load_model(path)
    assert main(["evaluate", "--checkpoint", str(path), "--data-dir", str(tmp_path)]) == 2
    assert capsys.readouterr().err.strip().endswith(f"it is {kind}")


def test_other_kinds_are_recognised_and_checkpoints_are_not(four_heads, tmp_path):
    np.save(tmp_path / "a.npy", np.zeros(3))
    np.savez(tmp_path / "b.npz", x=np.zeros(3))
    assert describe_file(tmp_path / "a.npy") == "a NumPy array file (.npy)"
    assert describe_file(tmp_path / "b.npz") == "a zip archive of 1 file(s) (x.npy)"
    assert describe_file(four_heads) is None
    damaged = tmp_path / "cut.pt"
    damaged.write_bytes(four_heads.read_bytes()[:300])
    assert describe_file(damaged) is None  # torch.load's own error names a truncated file
