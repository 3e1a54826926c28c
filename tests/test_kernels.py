"""Attention kernels: every kernel against ``reference`` (outputs and gradients of q, k, v, Wa),
the automatic choice, the kernel override on layers and models, and SDPA's memory property."""
import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode

from starpose.train.loss import mixste_loss
from starpose.models import MixSTEConfig, build_model
from starpose.models.attention import Attention, StarAttention
from starpose.models.kernels import INFERENCE_ONLY, KERNELS, SMALL_SEQ_MAX, inference, resolve_kernel, select_kernel

CPU = torch.device("cpu")
OTHER_KERNELS = [name for name in KERNELS if name != "reference"]
#: Kernels with a backward pass: their gradients are compared too.
GRAD_KERNELS = [name for name in OTHER_KERNELS if name not in INFERENCE_ONLY]


def _rel_err(a: torch.Tensor, b: torch.Tensor) -> float:
    return ((a - b).norm() / b.norm()).item()


def _inputs(batch, heads, tokens, head_dim, star, seed):
    """q, k, v as the attention layers pass them (strided views into one qkv tensor), and Wa."""
    gen = torch.Generator().manual_seed(seed)
    qkv = torch.randn(batch, tokens, 3, heads, head_dim, generator=gen).requires_grad_()
    wa = (0.3 * torch.randn(tokens, head_dim, generator=gen)).requires_grad_() if star else None
    return qkv, wa


def _run(name, qkv, wa, grad_out):
    """Output and the gradients of q, k, v (as qkv) and Wa of kernel ``name``."""
    qkv.grad = None
    if wa is not None:
        wa.grad = None
    q, k, v = (t.transpose(1, 2) for t in qkv.unbind(2))
    attend = select_kernel(name, CPU, q.dtype, q.shape[2])
    out = attend(q, k, v, wa, scale=q.shape[-1] ** -0.5)
    out.backward(grad_out)
    grads = [qkv.grad[:, :, i].clone() for i in range(3)] + ([] if wa is None else [wa.grad.clone()])
    return out.detach(), grads


@pytest.mark.parametrize("name", GRAD_KERNELS)
@pytest.mark.parametrize("star", [True, False], ids=["star", "vanilla"])
@pytest.mark.parametrize("batch, heads, tokens, head_dim", [
    (4, 4, 17, 16), (3, 2, 27, 32), (2, 2, 243, 16), (2, 3, 20, 8), (1, 4, 81, 12), (2, 1, 130, 8)])
def test_every_kernel_matches_the_reference_outputs_and_gradients(name, star, batch, heads, tokens, head_dim):
    qkv, wa = _inputs(batch, heads, tokens, head_dim, star, seed=tokens + heads)
    grad_out = torch.randn(batch, heads, tokens, head_dim, generator=torch.Generator().manual_seed(7))
    out, grads = _run(name, qkv, wa, grad_out)
    ref_out, ref_grads = _run("reference", qkv, wa, grad_out)
    assert out.shape == (batch, heads, tokens, head_dim)
    assert _rel_err(out, ref_out) < 1e-5
    assert len(grads) == (4 if star else 3)
    for grad, ref in zip(grads, ref_grads):
        assert _rel_err(grad, ref) < 1e-5


@pytest.mark.parametrize("name", OTHER_KERNELS)
def test_kernels_take_contiguous_inputs_too(name):
    gen = torch.Generator().manual_seed(0)
    q, k, v = torch.randn(3, 2, 2, 17, 8, generator=gen).unbind(0)
    wa = torch.randn(17, 8, generator=gen)
    out = select_kernel(name, CPU, q.dtype, 17)(q, k, v, wa, scale=0.3)
    assert _rel_err(out, select_kernel("reference", CPU, q.dtype, 17)(q, k, v, wa, scale=0.3)) < 1e-5


def test_auto_choice_follows_device_dtype_length_and_dropout():
    assert resolve_kernel("auto", CPU, torch.float32, 17) == "cpu_small"
    assert resolve_kernel("auto", CPU, torch.float64, SMALL_SEQ_MAX) == "cpu_small"
    assert resolve_kernel("auto", CPU, torch.float32, SMALL_SEQ_MAX + 1) == "sdpa"
    assert resolve_kernel("auto", CPU, torch.float32, 243) == "sdpa"
    assert resolve_kernel("auto", CPU, torch.bfloat16, 17) == "sdpa"
    assert resolve_kernel("auto", CPU, torch.float32, 17, dropout_p=0.1) == "sdpa"
    assert resolve_kernel("auto", torch.device("cuda"), torch.float32, 17) == "sdpa"
    assert resolve_kernel("auto", "cpu", torch.float32, 27) == "cpu_small"
    with torch.no_grad():
        assert resolve_kernel("auto", CPU, torch.float32, 17) == "inference"
        assert resolve_kernel("auto", CPU, torch.float64, SMALL_SEQ_MAX) == "inference"
        assert resolve_kernel("auto", CPU, torch.float32, SMALL_SEQ_MAX + 1) == "sdpa"
        assert resolve_kernel("auto", CPU, torch.bfloat16, 17) == "sdpa"
        assert resolve_kernel("auto", torch.device("cuda"), torch.float32, 17) == "sdpa"
    with torch.inference_mode():
        assert resolve_kernel("auto", CPU, torch.float32, 27) == "inference"


def test_a_named_kernel_is_taken_as_it_is_and_bad_names_are_refused():
    for name in KERNELS:
        assert resolve_kernel(name, CPU, torch.float32, 243) == name
        assert select_kernel(name, CPU, torch.float32, 17) is KERNELS[name]
    with pytest.raises(ValueError, match="no attention dropout"):
        resolve_kernel("cpu_small", CPU, torch.float32, 17, dropout_p=0.1)
    with pytest.raises(ValueError, match="attention_kernel must be one of auto, reference, sdpa, cpu_small"):
        resolve_kernel("fused", CPU, torch.float32, 17)
    with pytest.raises(ValueError, match="'flash'"):
        MixSTEConfig(attention_kernel="flash")
    with pytest.raises(ValueError, match="'fast'"):
        Attention(16, num_heads=2, kernel="fast")


def _layer(cls, dim, tokens, heads):
    if cls == "star":
        return StarAttention(dim, seq_len=tokens, num_heads=heads)
    return Attention(dim, num_heads=heads)


@pytest.mark.parametrize("name", ["auto", *GRAD_KERNELS])
@pytest.mark.parametrize("cls", ["vanilla", "star"])
@pytest.mark.parametrize("batch, tokens, dim, heads",
                         [(3, 27, 32, 4), (2, 243, 64, 2), (2, 17, 40, 4), (1, 130, 24, 3)])
def test_layers_agree_with_the_reference_kernel_on_input_and_parameter_gradients(
        name, cls, batch, tokens, dim, heads):
    torch.manual_seed(3)
    layer = _layer(cls, dim, tokens, heads)
    x = torch.randn(batch, tokens, dim, requires_grad=True)
    outs = []
    for kernel in (name, "reference"):
        layer.kernel = kernel
        layer.zero_grad()
        x.grad = None
        out = layer(x)
        out.square().sum().backward()
        outs.append(torch.cat([out.flatten(), x.grad.flatten()] + [p.grad.flatten() for p in layer.parameters()]))
    assert _rel_err(outs[0], outs[1]) < 1e-5


def _train_loss(model, x, y):
    model.zero_grad()
    loss = mixste_loss(model(x), y).total
    loss.backward()
    return loss.item(), torch.cat([p.grad.flatten() for p in model.parameters()])


@pytest.mark.parametrize("preset", ["star-mixste-27", "mixste-27"])
def test_auto_and_reference_training_step_agree_at_the_small_config(preset):
    torch.manual_seed(0)
    auto = build_model(preset)
    reference = build_model(preset, attention_kernel="reference")
    reference.load_state_dict(auto.state_dict())
    x, y = torch.randn(4, 27, 17, 2), torch.randn(4, 27, 17, 3)
    loss_a, grad_a = _train_loss(auto, x, y)
    loss_r, grad_r = _train_loss(reference, x, y)
    assert abs(loss_a - loss_r) <= 1e-5 * abs(loss_r)
    assert _rel_err(grad_a, grad_r) < 1e-5


class _ShapeRecorder(TorchDispatchMode):
    """Records the shape of every tensor an operator returns."""

    def __init__(self):
        super().__init__()
        self.shapes = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        for t in out if isinstance(out, (tuple, list)) else (out,):
            if isinstance(t, torch.Tensor):
                self.shapes.append(tuple(t.shape))
        return out


def _square_tensors(layer, frames):
    x = torch.randn(2, frames, 64, requires_grad=True)
    with _ShapeRecorder() as recorder:
        layer(x).sum().backward()
    return [s for s in recorder.shapes if len(s) >= 2 and s[-1] == s[-2] == frames]


@pytest.mark.parametrize("cls", ["vanilla", "star"])
def test_auto_temporal_attention_at_243_frames_never_materialises_frames_by_frames(cls):
    torch.manual_seed(0)
    layer = _layer(cls, 64, 243, 2)
    layer.kernel = "reference"
    assert _square_tensors(layer, 243)  # the recorder does see the reference kernel's logits
    layer.kernel = "auto"
    assert _square_tensors(layer, 243) == []


@pytest.mark.parametrize("name", sorted(INFERENCE_ONLY))
@pytest.mark.parametrize("star", [True, False], ids=["star", "vanilla"])
@pytest.mark.parametrize("batch, heads, tokens, head_dim", [
    (4, 4, 17, 16), (3, 2, 27, 32), (2, 2, 243, 16), (2, 3, 20, 8), (1, 4, 81, 12), (2, 1, 130, 8)])
def test_inference_kernels_match_the_reference_outputs(name, star, batch, heads, tokens, head_dim):
    qkv, wa = _inputs(batch, heads, tokens, head_dim, star, seed=tokens + heads)
    with torch.inference_mode():
        q, k, v = (t.transpose(1, 2) for t in qkv.unbind(2))
        out = KERNELS[name](q, k, v, wa, scale=head_dim ** -0.5)
        ref = KERNELS["reference"](q, k, v, wa, scale=head_dim ** -0.5)
    assert out.shape == (batch, heads, tokens, head_dim)
    assert _rel_err(out, ref) < 1e-5


def test_the_inference_kernel_splits_long_inputs_into_chunks_of_logits():
    tokens = 130
    per_chunk = inference.CHUNK_BYTES // (tokens * tokens * 4)
    groups = per_chunk + 7  # two chunks, the second a partial one
    qkv, wa = _inputs(groups, 1, tokens, 4, star=True, seed=5)
    with torch.no_grad():
        q, k, v = (t.transpose(1, 2) for t in qkv.unbind(2))
        for w in (wa, None):
            out = KERNELS["inference"](q, k, v, w, scale=0.5)
            assert _rel_err(out, KERNELS["reference"](q, k, v, w, scale=0.5)) < 1e-5


@pytest.mark.parametrize("tokens", [17, 27], ids=["keys-major", "query-major"])
@pytest.mark.parametrize("star", [True, False], ids=["star", "vanilla"])
def test_the_inference_kernel_without_a_softmax_pass_handles_large_and_far_apart_logits(tokens, star):
    """It exponentiates the logits without subtracting each row's maximum: logits up to ~150
    (shifted, no overflow), and a sequence whose logits all lie ~150 below another's in the same
    chunk (its weights would underflow to 0: the chunk is redone with the softmax) still give
    the reference's outputs; NaN logits give NaN rows as the softmax does."""
    qkv, wa = _inputs(4, 2, tokens, 8, star, seed=tokens)
    with torch.no_grad():
        q, k, v = (t.transpose(1, 2).clone() for t in qkv.unbind(2))
        direction = torch.nn.functional.normalize(torch.randn(8, generator=torch.Generator().manual_seed(1)), dim=0)
        q[:2] = q[:2] + 12 * direction  # logits of about +/-144 at scale 1
        k[:2] = k[:2] + 12 * direction * torch.tensor([1.0, -1.0]).view(2, 1, 1, 1)
        for scale in (0.05, 1.0):
            for part in (slice(0, 1), slice(0, 4)):  # large logits alone; and beside far lower ones
                out = KERNELS["inference"](q[part], k[part], v[part], wa, scale=scale)
                ref = KERNELS["reference"](q[part], k[part], v[part], wa, scale=scale)
                assert torch.isfinite(out).all()
                assert _rel_err(out, ref) < 1e-5
        q[3, 1, 0, 0] = float("nan")
        out = KERNELS["inference"](q, k, v, wa, scale=1.0)
        ref = KERNELS["reference"](q, k, v, wa, scale=1.0)
    assert torch.equal(out.isnan(), ref.isnan()) and out.isnan().any()
    assert _rel_err(out.nan_to_num(), ref.nan_to_num()) < 1e-5


def test_the_inference_kernel_refuses_inputs_that_need_gradients_and_dropout():
    qkv, wa = _inputs(1, 2, 17, 8, star=True, seed=0)
    q, k, v = (t.transpose(1, 2) for t in qkv.unbind(2))
    with pytest.raises(RuntimeError, match="no backward"):
        KERNELS["inference"](q, k, v, wa, scale=0.3)
    with torch.no_grad(), pytest.raises(ValueError, match="dropout"):
        KERNELS["inference"](q, k, v, wa, scale=0.3, dropout_p=0.1)


def test_the_l2_cache_size_is_read_from_sysfs_and_none_where_it_is_missing(tmp_path):
    for index, (level, size) in enumerate([("1", "48K"), ("2", "2048K"), ("3", "300M")]):
        folder = tmp_path / f"index{index}"
        folder.mkdir()
        (folder / "level").write_text(level + "\n")
        (folder / "size").write_text(size + "\n")
    assert inference.l2_cache_bytes(str(tmp_path)) == 2 * 2**20
    (tmp_path / "index1" / "size").write_text("1M\n")
    assert inference.l2_cache_bytes(str(tmp_path)) == 2**20
    assert inference.l2_cache_bytes(str(tmp_path / "missing")) is None
    assert 2**19 <= inference.CHUNK_BYTES <= 2**22
