"""Attention layers: the star formula, the qkv channel layout, and every kernel == reference."""
import pytest
import torch

from starpose.models.attention import Attention, StarAttention
from starpose.models.kernels import KERNELS, reference


def _rel_err(a: torch.Tensor, b: torch.Tensor) -> float:
    return ((a - b).norm() / b.norm()).item()


def _naive_star_logits(wa, q, k, scale):
    """logit[i, j] = 0.5 * (sum_c Wa[i, c] q[j, c] k[j, c] + scale * sum_c q[i, c] k[j, c]), by loops."""
    n = q.shape[0]
    out = torch.empty(n, n, dtype=q.dtype)
    for i in range(n):
        for j in range(n):
            out[i, j] = 0.5 * ((wa[i] * q[j] * k[j]).sum() + scale * (q[i] * k[j]).sum())
    return out


def test_star_logits_follow_the_formula():
    torch.manual_seed(0)
    attn = StarAttention(dim=16, seq_len=5, num_heads=2).double()
    q, k = torch.randn(2, 3, 2, 5, 8, dtype=torch.float64).unbind(0)
    logits = reference.logits(q, k, attn.wa, scale=attn.scale)
    for b in range(3):
        for h in range(2):
            expected = _naive_star_logits(attn.wa, q[b, h], k[b, h], attn.scale)
            torch.testing.assert_close(logits[b, h], expected)


def test_wa_is_shared_per_layer_and_kaiming_initialised():
    torch.manual_seed(0)
    attn = StarAttention(dim=512, seq_len=243, num_heads=8)
    assert attn.wa.shape == (243, 64)
    # Kaiming normal, fan_in = head_dim, ReLU gain: std = sqrt(2 / 64)
    assert attn.wa.std().item() == pytest.approx((2 / 64) ** 0.5, rel=0.05)
    assert abs(attn.wa.mean().item()) < 0.01


def test_qkv_channels_are_laid_out_as_three_heads_head_dim():
    """q, k, v each split into consecutive heads; heads concatenated in order before proj."""
    torch.manual_seed(0)
    dim, heads, n = 12, 3, 4
    attn = Attention(dim, num_heads=heads, kernel="reference").double()
    x = torch.randn(2, n, dim, dtype=torch.float64)
    qkv = attn.qkv(x)
    hd = dim // heads
    outs = []
    for h in range(heads):
        q = qkv[..., h * hd:(h + 1) * hd]
        k = qkv[..., dim + h * hd: dim + (h + 1) * hd]
        v = qkv[..., 2 * dim + h * hd: 2 * dim + (h + 1) * hd]
        w = torch.softmax(q @ k.transpose(-1, -2) * hd**-0.5, dim=-1)
        outs.append(w @ v)
    expected = attn.proj(torch.cat(outs, dim=-1))
    torch.testing.assert_close(attn(x), expected)


@pytest.mark.parametrize("kernel", ["auto", *KERNELS])
def test_the_channel_layout_holds_for_every_kernel(kernel):
    torch.manual_seed(0)
    attn = StarAttention(12, seq_len=4, num_heads=3, kernel="reference").double()
    x = torch.randn(2, 4, 12, dtype=torch.float64)
    with torch.no_grad():  # forward only: the inference-only kernels take part too
        expected = attn(x)
        attn.kernel = kernel
        torch.testing.assert_close(attn(x), expected)


@pytest.mark.parametrize("cls", ["vanilla", "star"])
@pytest.mark.parametrize("batch,tokens,dim,heads", [(3, 17, 32, 4), (2, 27, 64, 8), (1, 81, 48, 2),
                                                    (3, 27, 64, 4)])  # heads of 16: the compiled kernel where built
def test_auto_and_reference_kernels_agree(cls, batch, tokens, dim, heads):
    torch.manual_seed(tokens + dim)
    if cls == "star":
        layer = StarAttention(dim, seq_len=tokens, num_heads=heads)
    else:
        layer = Attention(dim, num_heads=heads)
    x = torch.randn(batch, tokens, dim, requires_grad=True)
    grad_out = torch.randn(batch, tokens, dim)
    results = []
    for kernel in ("auto", "reference"):
        layer.kernel = kernel
        layer.zero_grad()
        x.grad = None
        out = layer(x)
        out.backward(grad_out)
        grads = [x.grad.clone()] + [p.grad.clone() for p in layer.parameters()]
        results.append((out.detach(), grads))
    (out_f, grads_f), (out_e, grads_e) = results
    assert _rel_err(out_f, out_e) < 1e-5
    for g_f, g_e in zip(grads_f, grads_e):
        assert _rel_err(g_f, g_e) < 1e-5


def test_star_attention_rejects_a_wrong_sequence_length():
    layer = StarAttention(16, seq_len=5, num_heads=2)
    with pytest.raises(ValueError, match="5 tokens"):
        layer(torch.randn(1, 6, 16))
