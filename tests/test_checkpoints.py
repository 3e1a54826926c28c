"""Checkpoints: both layouts, hyperparameter inference, round trips and clear errors."""
import os
from dataclasses import asdict

import numpy as np
import pytest
import torch

from starpose import load_model, save_checkpoint
from starpose.cli import main
from starpose.errors import CheckpointError
from starpose.models import MixSTE
from starpose.models.checkpoints import read_checkpoint, starpose_to_published

SMALL = dict(num_frames=9, num_joints=17, dim=48, depth=3, num_heads=4, mlp_ratio=2.0)


def _published_checkpoint(path, model, module_prefix=True):
    """Write a checkpoint as the published training code does (AdamW state, RandomState)."""
    optimizer = torch.optim.AdamW(model.parameters(), lr=4e-5, weight_decay=0.1)
    model(torch.randn(1, model.num_frames, 17, 2)).sum().backward()
    optimizer.step()
    torch.save(
        {
            "epoch": 7,
            "lr": 3.9e-5,
            "random_state": np.random.RandomState(1234),
            "optimizer": optimizer.state_dict(),
            "model_pos": starpose_to_published(model.state_dict(), module_prefix=module_prefix),
        },
        path,
    )


def _same_outputs(a, b, frames):
    x = torch.randn(2, frames, 17, 2)
    with torch.no_grad():
        torch.testing.assert_close(a.eval()(x), b.eval()(x))


@pytest.mark.parametrize("attention", ["star", "vanilla"])
@pytest.mark.parametrize("module_prefix", [True, False])
def test_published_layout_loads_with_every_hyperparameter_inferred(tmp_path, attention, module_prefix):
    torch.manual_seed(0)
    model = MixSTE(**SMALL, attention=attention)
    path = tmp_path / "published.bin"
    _published_checkpoint(path, model, module_prefix)
    heads = None if attention == "star" else 4  # star weights carry the head count
    loaded = load_model(path, num_heads=heads)
    assert asdict(loaded.config) == asdict(model.config)
    assert not loaded.training
    _same_outputs(model, loaded, SMALL["num_frames"])


def test_published_names_are_those_of_the_published_code():
    names = set(starpose_to_published(MixSTE(**SMALL, attention="star").state_dict()))
    for name in [
        "module.Spatial_patch_to_embedding.weight", "module.Spatial_pos_embed", "module.Temporal_pos_embed",
        "module.STEblocks.2.attn.Wa", "module.TTEblocks.0.attn.qkv.bias", "module.TTEblocks.1.mlp.fc2.weight",
        "module.STEblocks.0.norm2.bias", "module.Spatial_norm.weight", "module.Temporal_norm.bias",
        "module.head.0.weight", "module.head.1.bias",
    ]:
        assert name in names


def test_vanilla_heads_default_to_eight(tmp_path):
    model = MixSTE(num_frames=9, dim=64, depth=2, num_heads=8, attention="vanilla")
    path = tmp_path / "ck.bin"
    _published_checkpoint(path, model)
    assert load_model(path).config.num_heads == 8


def test_starpose_round_trip_and_export_both_ways(tmp_path):
    torch.manual_seed(3)
    model = MixSTE(**SMALL, attention="star", drop_path_rate=0.1)
    own = save_checkpoint(tmp_path / "own.pt", model, epoch=4)
    loaded = load_model(own)
    assert loaded.config == model.config
    _same_outputs(model, loaded, 9)

    assert main(["export", str(own), str(tmp_path / "pub.bin"), "--to", "mixste"]) == 0
    pub = read_checkpoint(tmp_path / "pub.bin")
    assert all(k.startswith("module.") for k in pub["model_pos"])
    assert main(["export", str(tmp_path / "pub.bin"), str(tmp_path / "back.pt"), "--to", "starpose"]) == 0
    _same_outputs(model, load_model(tmp_path / "back.pt"), 9)


def test_the_attention_kernel_is_chosen_at_load_time_not_stored(tmp_path):
    torch.manual_seed(4)
    model = MixSTE(**SMALL, attention="star", attention_kernel="reference")
    path = save_checkpoint(tmp_path / "k.pt", model)
    assert "attention_kernel" not in read_checkpoint(path)["config"]
    assert load_model(path).config.attention_kernel == "auto"
    loaded = load_model(path, attention_kernel="sdpa")
    assert loaded.config.attention_kernel == "sdpa"
    assert {m.kernel for m in loaded.modules() if hasattr(m, "kernel")} == {"sdpa"}
    _same_outputs(model, loaded, 9)


def test_a_hostile_pickle_is_refused_and_not_executed(tmp_path):
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    torch.save({"model_pos": {}, "payload": Evil()}, tmp_path / "evil.pt")
    with pytest.raises(CheckpointError, match="evil.pt: refused"):
        load_model(tmp_path / "evil.pt")
    assert not marker.exists()


@pytest.mark.parametrize(
    "content, message",
    [
        (b"not a checkpoint at all", "not a readable PyTorch checkpoint"),
        (None, "no such checkpoint file"),
    ],
)
def test_unreadable_files_give_clear_errors(tmp_path, content, message):
    path = tmp_path / "bad.pt"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(CheckpointError, match=message):
        load_model(path)


def test_truncated_checkpoint(tmp_path):
    path = save_checkpoint(tmp_path / "ck.pt", MixSTE(**SMALL))
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="ck.pt: not a readable"):
        load_model(path)


def test_weights_that_do_not_fit(tmp_path):
    model = MixSTE(**SMALL)
    torch.save({"epoch": 1, "model_pos": {"module.Spatial_pos_embed": torch.zeros(1, 17, 48)}}, tmp_path / "x.bin")
    with pytest.raises(CheckpointError, match="x.bin: cannot infer"):
        load_model(tmp_path / "x.bin")
    state = starpose_to_published(model.state_dict())
    state["module.head.1.weight"] = torch.zeros(4, 48)
    torch.save({"model_pos": state}, tmp_path / "y.bin")
    with pytest.raises(CheckpointError, match=r"y.bin: weights do not fit the model \(wrong shape: head.weight"):
        load_model(tmp_path / "y.bin")
    torch.save({"something": 3}, tmp_path / "z.bin")
    with pytest.raises(CheckpointError, match="no model weights found"):
        load_model(tmp_path / "z.bin")


@pytest.mark.parametrize("content, message", [
    ({"format": "starpose", "model": {}, "config": {"bogus": 1}}, "malformed starpose checkpoint config"),
    ({"format": "starpose", "model": {}}, "malformed starpose checkpoint"),
    ({"model_pos": {"module.Spatial_patch_to_embedding.weight": torch.zeros(48, 2)}}, "no spatial block weights"),
])
def test_malformed_checkpoints_name_the_problem(tmp_path, capsys, content, message):
    torch.save(content, tmp_path / "m.pt")
    with pytest.raises(CheckpointError, match=f"m.pt: .*{message}"):
        load_model(tmp_path / "m.pt")
    assert main(["export", str(tmp_path / "m.pt"), str(tmp_path / "out.pt"), "--to", "mixste"]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and not (tmp_path / "out.pt").exists()


def test_cli_errors_are_one_line_with_nonzero_exit_and_nothing_written(tmp_path, capsys):
    (tmp_path / "bad.pt").write_bytes(b"\x00" * 100)
    out = tmp_path / "out.bin"
    assert main(["export", str(tmp_path / "bad.pt"), str(out), "--to", "mixste"]) == 2
    err = capsys.readouterr().err
    assert "bad.pt" in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert not out.exists()
    assert list(tmp_path.iterdir()) == [tmp_path / "bad.pt"]


def test_garbled_weight_names_and_values_are_one_line(tmp_path):
    """Fuzz case checkpoint-published 4902: a flipped byte made a key of pickle bytes with a
    newline, quoted as is in the message."""
    from starpose.models.checkpoints import load_weights

    model = MixSTE(**SMALL)
    state = dict(model.state_dict())
    state["head.weight"] = 3
    state["bad\n\x0fkey" * 20] = torch.zeros(1)
    state[7] = torch.zeros(1)
    with pytest.raises(CheckpointError) as err:
        load_weights(model, state, tmp_path / "w.pt")
    message = str(err.value)
    assert "\n" not in message and message.startswith(f"{tmp_path / 'w.pt'}: weights do not fit the model")
    assert "unexpected: 7, 'bad\\n\\x0fkey" in message and "not a tensor: head.weight" in message
