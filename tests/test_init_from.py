"""``train --init-from``: the weights are loaded, the optimiser and schedule are fresh, and files
that do not fit are refused in one line with nothing written."""
import pytest
import torch

from starpose.cli import main
from starpose.models.checkpoints import load_model, save_checkpoint, starpose_to_published
from starpose.models.mixste import MixSTE
from starpose.models.presets import get_preset
from starpose.train.loop import TrainConfig, Trainer


def _config(data_dir, out, **kwargs):
    base = dict(data_dir=str(data_dir), out=str(out), preset="star-mixste-27", epochs=1, batch_size=8,
                max_batches_per_epoch=2, val_stride=16, progress=False)
    return TrainConfig(**(base | kwargs))


def _trained_model(seed=1, **overrides):
    torch.manual_seed(seed)
    model = MixSTE.from_config(get_preset("star-mixste-27").model.__class__(
        **{**get_preset("star-mixste-27").model.__dict__, **overrides}))
    for p in model.parameters():  # not an initialisation a fresh model could have
        p.data.add_(torch.randn_like(p) * 0.01)
    return model


def test_weights_are_loaded_and_the_optimiser_is_fresh(tiny_dataset_dir, tmp_path):
    source = _trained_model(input_norm="box")
    save_checkpoint(tmp_path / "start.pt", source)
    trainer = Trainer(_config(tiny_dataset_dir, tmp_path / "run", init_from=str(tmp_path / "start.pt"), lr=3e-4))
    for name, value in source.state_dict().items():
        torch.testing.assert_close(trainer.model.state_dict()[name], value, rtol=0, atol=0)
    assert trainer.optimizer.state_dict()["state"] == {}  # no moments carried over
    assert trainer.optimizer.param_groups[0]["lr"] == 3e-4 and trainer.epoch == 0
    assert trainer.model.input_norm == "box"  # the checkpoint's input, unless the run names one
    trainer.fit()
    assert load_model(tmp_path / "run" / "last.pt").input_norm == "box"


def test_published_checkpoint_and_an_explicit_input_norm(tiny_dataset_dir, tmp_path):
    source = _trained_model()
    torch.save({"model_pos": starpose_to_published(source.state_dict()), "epoch": 3}, tmp_path / "pub.bin")
    trainer = Trainer(_config(tiny_dataset_dir, tmp_path / "run", init_from=str(tmp_path / "pub.bin"),
                              input_norm="box"))
    torch.testing.assert_close(trainer.model.joint_embed.weight, source.joint_embed.weight, rtol=0, atol=0)
    assert trainer.model.input_norm == "box"


def test_bundled_model_can_be_the_start(tiny_dataset_dir, tmp_path):
    trainer = Trainer(_config(tiny_dataset_dir, tmp_path / "run", init_from="bundled"))
    bundled = load_model("bundled")
    torch.testing.assert_close(trainer.model.head.weight, bundled.head.weight, rtol=0, atol=0)
    assert trainer.model.input_norm == bundled.input_norm


def _refused(capsys, args, out):
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    assert not out.exists()
    return err


def test_refusals_are_one_line_and_write_nothing(tiny_dataset_dir, tmp_path, capsys):
    out = tmp_path / "run"
    base = ["train", "--data-dir", str(tiny_dataset_dir), "--out", str(out), "--epochs", "1"]
    text = tmp_path / "notes.pt"
    text.write_text("not a checkpoint\n")
    assert "not a readable PyTorch checkpoint" in _refused(capsys, base + ["--init-from", str(text)], out)
    onnx = tmp_path / "model.onnx"
    onnx.write_bytes(b"\x08\x08\x12\x08starpose")
    assert "ONNX" in _refused(capsys, base + ["--init-from", str(onnx)], out)
    disguised = tmp_path / "model.pt"
    disguised.write_bytes(b"\x08\x08\x12\x08starpose" + bytes(64))
    assert "ONNX" in _refused(capsys, base + ["--init-from", str(disguised)], out)
    save_checkpoint(tmp_path / "f27.pt", _trained_model())
    err = _refused(capsys, base + ["--init-from", str(tmp_path / "f27.pt"), "--preset", "star-mixste-81"], out)
    assert "27 frames" in err and "81" in err
    save_checkpoint(tmp_path / "j15.pt", _trained_model(num_joints=15))
    err = _refused(capsys, base + ["--init-from", str(tmp_path / "j15.pt")], out)
    assert "15 joints" in err and "17" in err
    assert "no such checkpoint" in _refused(capsys, base + ["--init-from", str(tmp_path / "nope.pt")], out)
