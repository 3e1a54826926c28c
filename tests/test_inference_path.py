"""The CPU inference path of MixSTE: same outputs as the module forward with the reference kernel,
taken exactly where it applies."""
import pytest
import torch

from starpose.models import MixSTE
from starpose.models import inference_path


def _model(attention, frames, dtype=torch.float32):
    torch.manual_seed(0)
    model = MixSTE(num_frames=frames, dim=32, depth=2, num_heads=4, attention=attention).to(dtype).eval()
    with torch.no_grad():  # weights well away from the zero-initialised embeddings
        for p in model.parameters():
            p.normal_(0, 0.2)
    return model


def _rel_err(a, b):
    return ((a - b).abs().max() / b.abs().max()).item()


def _outputs(model, x):
    with torch.inference_mode():
        reference = model.set_attention_kernel("reference")(x)
        fast = model.set_attention_kernel("auto")(x)
    return fast, reference


@pytest.mark.parametrize("attention", ["star", "vanilla"])
@pytest.mark.parametrize("frames", [9, 130])  # attention kernel / SDPA for the frames
def test_the_inference_path_matches_the_reference_kernel(attention, frames):
    model = _model(attention, frames)
    x = torch.randn(2, frames, 17, 2, generator=torch.Generator().manual_seed(1))
    fast, reference = _outputs(model, x)
    assert fast.shape == (2, frames, 17, 3)
    assert _rel_err(fast, reference) < 1e-5


def test_a_large_batch_goes_through_in_cache_sized_blocks_with_the_same_outputs(monkeypatch):
    model = _model("star", 9)
    x = torch.randn(7, 9, 17, 2, generator=torch.Generator().manual_seed(3))
    per_window = 9 * 17 * 32 * 4
    blocks = []
    original = inference_path._forward
    monkeypatch.setattr(inference_path, "_forward", lambda m, t, low: blocks.append(len(t)) or original(m, t, low))
    monkeypatch.setattr(inference_path, "BLOCK_BYTES", 3 * per_window)
    monkeypatch.setattr(torch, "get_num_threads", lambda: 1)
    fast, reference = _outputs(model, x)
    assert blocks == [3, 3, 1]
    assert _rel_err(fast, reference) < 1e-5
    with torch.inference_mode():
        one_by_one = torch.cat([model(x[i:i + 1]) for i in range(7)])
    assert _rel_err(fast, one_by_one) < 1e-6


def test_the_blocks_grow_with_the_thread_count():
    assert inference_path.block_bytes(1) == inference_path.BLOCK_BYTES
    assert inference_path.block_bytes(2) == 4 * inference_path.BLOCK_BYTES
    assert inference_path.block_bytes(4) == 8 * inference_path.BLOCK_BYTES


def test_the_unfused_fallback_and_float64_match_too(monkeypatch):
    monkeypatch.setattr(inference_path, "FUSED_LINEAR", False)
    model = _model("star", 9)
    x = torch.randn(3, 9, 17, 2, generator=torch.Generator().manual_seed(2))
    fast, reference = _outputs(model, x)
    assert _rel_err(fast, reference) < 1e-5
    fast64, reference64 = _outputs(model.double(), x.double())
    assert fast64.dtype == torch.float64 and _rel_err(fast64, reference64) < 1e-12


def test_the_path_is_taken_only_in_eval_without_grad_on_the_cpu(monkeypatch):
    model = _model("star", 9)
    x = torch.randn(1, 9, 17, 2)
    calls = []
    original = inference_path.forward
    monkeypatch.setattr(inference_path, "forward", lambda m, t: calls.append(1) or original(m, t))
    with torch.inference_mode():
        model(x)
        model.set_attention_kernel("reference")(x)
        model.set_attention_kernel("auto")
        with torch.autocast("cpu", dtype=torch.bfloat16):
            model(x)
        with torch.autocast("cpu", dtype=torch.float16):
            model(x)
    with torch.no_grad():
        model.set_attention_kernel("inference")(x)
    model.set_attention_kernel("auto")(x)  # grad enabled
    with torch.no_grad():
        model.train()(x)
    assert len(calls) == 3  # auto under inference_mode (fp32, bf16 autocast), inference under no_grad


def test_dropout_settings_do_not_matter_in_eval_mode():
    torch.manual_seed(0)
    model = MixSTE(num_frames=9, num_joints=17, in_chans=2, dim=32, depth=1, num_heads=4, drop_rate=0.2, attn_drop_rate=0.3, drop_path_rate=0.1).eval()
    x = torch.randn(2, 9, 17, 2)
    assert inference_path.applies(model, x) is False  # grad enabled
    with torch.inference_mode():
        assert inference_path.applies(model, x)
        fast = model(x)
        reference = model.set_attention_kernel("reference")(x)
    assert _rel_err(fast, reference) < 1e-5


def test_changed_weights_are_seen_at_the_next_call():
    model = _model("vanilla", 9)
    x = torch.randn(1, 9, 17, 2)
    with torch.inference_mode():
        before = model(x)
    with torch.no_grad():
        model.head.bias.add_(1.0)
    with torch.inference_mode():
        after = model(x)
    assert torch.allclose(after, before + 1.0, atol=1e-5)
    # The linear layers' packed weights follow an in-place change, a load and a new tensor.
    reference = _model("vanilla", 9).set_attention_kernel("reference")
    for change in ("in place", "load", "new tensor"):
        fc = model.spatial_blocks[0].mlp.fc1
        with torch.no_grad():
            if change == "in place":
                fc.weight.mul_(1.5)
            elif change == "load":
                model.load_state_dict({**model.state_dict(), "spatial_blocks.0.mlp.fc1.weight": fc.weight * 0.5})
            else:
                fc.weight = torch.nn.Parameter(fc.weight * -1.0)
        reference.load_state_dict(model.state_dict())
        with torch.inference_mode():
            torch.testing.assert_close(model(x), reference(x), atol=1e-5, rtol=1e-5)
    # What is kept is beside the model: a copy of a model that has run is a plain copy.
    import copy

    with torch.inference_mode():
        torch.testing.assert_close(copy.deepcopy(model)(x), model(x), atol=0, rtol=0)


def test_fp32_and_bf16_calls_by_turns_keep_both_packings():
    """A model run in fp32 and under bf16 autocast by turns (as ``bench`` does) packs each weight
    once per dtype, not again at every switch (that cost the fp32 forward 12 % at two threads)."""
    from starpose.inference.predictors import autocast
    from starpose.models import inference_path

    if not inference_path.FUSED_LINEAR:
        pytest.skip("oneDNN's fused linear is not available in this torch build")
    model = _model("vanilla", 9)
    x = torch.randn(1, 9, 17, 2)
    fc = model.spatial_blocks[0].mlp.fc1
    kept = []
    with torch.inference_mode():
        for _ in range(2):
            model(x)
            with autocast(x.device, "bf16"):
                model(x)
            kept.append({dtype: entry[1] for dtype, entry in inference_path._PACKED[fc].items()})
    assert set(kept[0]) == {torch.float32, torch.bfloat16}
    assert all(kept[1][dtype] is kept[0][dtype] for dtype in kept[0])


@pytest.mark.parametrize("frames", [9, 130])
def test_bf16_autocast_runs_the_path_with_bf16_matmuls_and_fp32_outputs(frames):
    model = _model("star", frames)
    x = torch.randn(2, frames, 17, 2, generator=torch.Generator().manual_seed(3))
    with torch.inference_mode():
        fp32 = model(x)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            fast = model(x)
            module = model.set_attention_kernel("sdpa")(x)  # the module forward under autocast
    assert fast.dtype == torch.float32
    assert 1e-5 < _rel_err(fast, fp32) < 5e-2  # bf16 precision, not fp32's
    assert _rel_err(fast, fp32) < 2 * _rel_err(module.float(), fp32) + 1e-2


def test_evaluation_after_a_fused_optimiser_step_sees_the_new_weights():
    """torch's fused AdamW (the training loop's) updates the weights without moving their
    version counters, the key of the packed weights; switching to training and back drops them."""
    from starpose.train.optimizer import adamw

    torch.manual_seed(0)
    model = MixSTE(num_frames=9, dim=32, depth=1, num_heads=2)
    x = torch.randn(2, 9, 17, 2)
    optimizer = adamw(model.parameters(), lr=0.05)
    model.eval()
    with torch.no_grad():
        model(x)  # packs the weights
    model.train()
    model(x).square().sum().backward()
    optimizer.step()
    model.eval()
    with torch.no_grad():
        fast = model(x)
        model.set_attention_kernel("reference")
        reference = model(x)  # the explicit path: no packed weights
    assert _rel_err(fast, reference) < 1e-5
