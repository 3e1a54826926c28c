"""MixSTE: parameter counts, the published architecture, presets and every kernel == reference."""
from dataclasses import asdict

import pytest
import torch

from starpose.models import PRESETS, MixSTE, build_model, count_parameters, get_preset
from starpose.models.kernels import INFERENCE_ONLY, KERNELS
from starpose.models.checkpoints import starpose_to_published
from starpose.models.published_forward import reference_forward
from starpose.train.recipes import preset_recipe


def test_parameter_counts_match_the_published_code():
    assert count_parameters(MixSTE(num_frames=243, dim=512, depth=8, attention="vanilla")) == 33_783_811
    assert count_parameters(MixSTE(num_frames=243, dim=512, depth=8, attention="star")) == 33_916_931


def test_paper_presets():
    assert PRESETS["star-mixste-243"].model.attention == "star"
    assert PRESETS["mixste-243"].model.attention == "vanilla"
    for name in ("mixste-243", "star-mixste-243"):
        cfg = PRESETS[name].model
        assert (cfg.num_frames, cfg.dim, cfg.depth, cfg.num_heads) == (243, 512, 8, 8)
        assert preset_recipe(name).train == dict(lr=4e-5, batch_size=4, epochs=120)


def test_preset_table_pairs_each_size_with_both_attentions_and_one_recipe():
    assert list(PRESETS) == ["mixste-243", "star-mixste-243", "mixste-81", "star-mixste-81",
                             "mixste-27", "star-mixste-27", "mixste-43-humaneva",
                             "star-mixste-43-humaneva", "mixste-27-humaneva", "star-mixste-27-humaneva"]
    for name in ("mixste-43-humaneva", "star-mixste-43-humaneva", "star-mixste-27-humaneva"):
        assert PRESETS[name].model.num_joints == 15
    assert PRESETS["mixste-43-humaneva"].model.num_frames == 43
    for frames in (81, 27):
        vanilla, star = get_preset(f"mixste-{frames}"), get_preset(f"star-mixste-{frames}")
        assert preset_recipe(vanilla.name) == preset_recipe(star.name) and vanilla.name == f"mixste-{frames}"
        assert asdict(vanilla.model) == {**asdict(star.model), "attention": "vanilla"}
    assert preset_recipe("mixste-81").train == dict(lr=5e-4, batch_size=16, epochs=40)
    assert preset_recipe("star-mixste-27").train == dict(lr=1e-3, batch_size=32, epochs=30)
    assert preset_recipe("star-mixste-43-humaneva").train == dict(lr=1e-4, batch_size=32, epochs=200)
    assert build_model("star-mixste-27").config == get_preset("star-mixste-27").model
    with pytest.raises(KeyError, match="'mixste-9'.*mixste-243, star-mixste-243"):
        get_preset("mixste-9")
    with pytest.raises(KeyError, match="choose from"):
        build_model("star-mixste-9")


def test_output_shape_and_input_check():
    model = build_model("star-mixste-27")
    assert model(torch.randn(2, 27, 17, 2)).shape == (2, 27, 17, 3)
    with pytest.raises(ValueError, match=r"\(B, 27, 17, 2\)"):
        model(torch.randn(2, 26, 17, 2))


def test_structure_shared_norms_and_drop_path_schedule():
    model = MixSTE(num_frames=9, dim=32, depth=4, num_heads=4, drop_path_rate=0.3)
    norms = [m for m in model.modules() if isinstance(m, torch.nn.LayerNorm)]
    # 2 per block * 8 blocks + shared spatial + shared temporal + head
    assert len(norms) == 2 * 8 + 3
    assert model.spatial_norm.eps == 1e-6 and model.temporal_norm.eps == 1e-6
    assert model.head_norm.eps == 1e-5
    rates = [b.drop_path.p for b in model.spatial_blocks]
    assert rates == pytest.approx([0.0, 0.1, 0.2, 0.3])
    assert [b.drop_path.p for b in model.temporal_blocks] == rates
    assert torch.count_nonzero(model.spatial_pos_embed) == 0
    assert torch.count_nonzero(model.temporal_pos_embed) == 0


@pytest.mark.parametrize("attention", ["vanilla", "star"])
def test_matches_an_independent_functional_reference_of_the_published_model(attention):
    torch.manual_seed(1)
    model = MixSTE(num_frames=9, dim=32, depth=3, num_heads=4, attention=attention).double().eval()
    with torch.no_grad():  # non-zero position embeddings so their placement is tested too
        model.spatial_pos_embed.normal_()
        model.temporal_pos_embed.normal_()
    x = torch.randn(2, 9, 17, 2, dtype=torch.float64)
    published = starpose_to_published(model.state_dict(), module_prefix=False)
    expected = reference_forward(published, x, num_heads=4, depth=3)
    torch.testing.assert_close(model(x), expected)


@pytest.mark.parametrize("kernel", ["auto", *KERNELS])
@pytest.mark.parametrize("attention", ["vanilla", "star"])
def test_every_kernel_matches_the_published_transcription(attention, kernel):
    torch.manual_seed(1)
    model = MixSTE(num_frames=9, dim=32, depth=2, num_heads=4, attention=attention,
                   attention_kernel=kernel).double().eval()
    x = torch.randn(2, 9, 17, 2, dtype=torch.float64)
    published = starpose_to_published(model.state_dict(), module_prefix=False)
    with torch.no_grad():  # forward only: the inference-only kernels take part too
        torch.testing.assert_close(model(x), reference_forward(published, x, num_heads=4, depth=2))


@pytest.mark.parametrize("kernel", ["auto", *(name for name in KERNELS if name not in INFERENCE_ONLY)])
@pytest.mark.parametrize("attention", ["vanilla", "star"])
def test_model_kernels_equal_the_reference_forward_and_backward(attention, kernel):
    torch.manual_seed(2)
    model = MixSTE(num_frames=27, dim=64, depth=2, num_heads=4, attention=attention)
    x = torch.randn(2, 27, 17, 2)
    outs, grads = [], []
    for name in (kernel, "reference"):
        model.set_attention_kernel(name).zero_grad()
        assert model.config.attention_kernel == name
        out = model(x)
        out.square().mean().backward()
        outs.append(out.detach())
        grads.append(torch.cat([p.grad.flatten() for p in model.parameters()]))
    assert ((outs[0] - outs[1]).norm() / outs[1].norm()).item() < 1e-5
    assert ((grads[0] - grads[1]).norm() / grads[1].norm()).item() < 1e-5
