"""An independent functional transcription of the published MixSTE forward pass.

It works directly on a published-layout state_dict (``STEblocks.*``, ``head.0`` ...), so a test
comparing it with :class:`starpose.models.MixSTE` checks the architecture and the name mapping
(``tests/test_mixste.py``), and ``starpose bench`` times it as "the published code" beside
starpose's own forward (:mod:`starpose.bench.inference`). Nothing else uses it.
"""
import torch.nn.functional as F


def _attention(w, prefix, x, heads):
    B, N, C = x.shape
    hd = C // heads
    qkv = F.linear(x, w[prefix + "qkv.weight"], w.get(prefix + "qkv.bias"))
    qkv = qkv.reshape(B, N, 3, heads, hd).permute(2, 0, 3, 1, 4)
    q, k, v = qkv[0], qkv[1], qkv[2]
    logits = (q @ k.transpose(-2, -1)) * hd**-0.5
    if prefix + "Wa" in w:
        qk = (q * k).transpose(-2, -1)  # (B, h, c, N)
        logits = 0.5 * (w[prefix + "Wa"] @ qk + logits)
    out = (logits.softmax(-1) @ v).transpose(1, 2).reshape(B, N, C)
    return F.linear(out, w[prefix + "proj.weight"], w[prefix + "proj.bias"])


def _block(w, prefix, x, heads):
    ln = lambda t, name: F.layer_norm(t, t.shape[-1:], w[prefix + name + ".weight"], w[prefix + name + ".bias"], 1e-6)
    x = x + _attention(w, prefix + "attn.", ln(x, "norm1"), heads)
    h = F.gelu(F.linear(ln(x, "norm2"), w[prefix + "mlp.fc1.weight"], w[prefix + "mlp.fc1.bias"]))
    return x + F.linear(h, w[prefix + "mlp.fc2.weight"], w[prefix + "mlp.fc2.bias"])


def reference_forward(w, x, num_heads, depth):
    b, f, n, _ = x.shape
    norm = lambda t, name, eps=1e-6: F.layer_norm(t, t.shape[-1:], w[name + ".weight"], w[name + ".bias"], eps)
    x = x.reshape(b * f, n, -1)
    x = F.linear(x, w["Spatial_patch_to_embedding.weight"], w["Spatial_patch_to_embedding.bias"])
    x = x + w["Spatial_pos_embed"]
    for i in range(depth):
        x = norm(_block(w, f"STEblocks.{i}.", x, num_heads), "Spatial_norm")
        c = x.shape[-1]
        x = x.reshape(b, f, n, c).permute(0, 2, 1, 3).reshape(b * n, f, c)
        if i == 0:
            x = x + w["Temporal_pos_embed"]
        x = norm(_block(w, f"TTEblocks.{i}.", x, num_heads), "Temporal_norm")
        x = x.reshape(b, n, f, c).permute(0, 2, 1, 3).reshape(b * f, n, c)
    x = F.linear(norm(x, "head.0", 1e-5), w["head.1.weight"], w["head.1.bias"])
    return x.reshape(b, f, n, 3)
