"""The benchmark machinery on a tiny model, fused == explicit training loss, and the fused path's
memory property at 243 frames (no (243, 243) tensor is ever created)."""
import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode

from starpose import bench
from starpose.loss import mixste_loss
from starpose.models import attention as attention_module
from starpose.models.attention import Attention, StarAttention
from starpose.models.mixste import build_model

CPU = torch.device("cpu")


def test_tiny_bench_table_has_every_row_and_positive_numbers():
    result = bench.run_bench([bench.TINY], CPU, memory=False, assembly=False, log=lambda _: None)
    rows = result["rows"]
    assert [(r["attention"], r["path"]) for r in rows] == [
        ("vanilla", "explicit"), ("vanilla", "fused"), ("star", "explicit"), ("star", "fused")]
    for row in rows:
        for key in ("train_frames_per_s", "infer_frames_per_s", "gflop_per_frame_train",
                    "gflop_per_frame_fwd", "train_gflop_per_s", "speedup_vs_explicit"):
            assert row[key] > 0, key
        assert row["pct_peak_bf16"] is None  # CPU: no GPU peak
    text = bench.format_table(result)
    assert "| config | attention | path |" in text and text.count("| tiny |") == 4


def test_memory_probe_runs_in_a_subprocess_and_gives_an_estimate():
    mem = bench.measure_memory(bench.TINY, bench.Variant("star", True), CPU)
    assert mem["peak_bytes"] > 0 and mem["params"] > 0
    assert bench.max_batch_estimate(mem["peak_bytes"], mem["params"], 2, bench.CPU_CAPACITY) > 0


def test_flops_count_matmuls_only_and_star_adds_its_term():
    fwd_v, train_v = bench.flops_per_frame(bench.TINY, "vanilla")
    fwd_s, train_s = bench.flops_per_frame(bench.TINY, "star")
    assert 0 < fwd_v < fwd_s and train_v == pytest.approx(3 * fwd_v, rel=0.01)


def _train_loss(model, x, y):
    model.zero_grad()
    loss = mixste_loss(model(x), y).total
    loss.backward()
    return loss.item(), torch.cat([p.grad.flatten() for p in model.parameters()])


@pytest.mark.parametrize("preset", ["star-mixste-27", "mixste-27"])
def test_fused_and_explicit_training_step_agree_at_the_small_config(preset):
    torch.manual_seed(0)
    model = build_model(preset)
    x, y = torch.randn(4, 27, 17, 2), torch.randn(4, 27, 17, 3)
    loss_f, grad_f = _train_loss(model.set_fused(True), x, y)
    loss_e, grad_e = _train_loss(model.set_fused(False), x, y)
    assert abs(loss_f - loss_e) <= 1e-5 * abs(loss_e)
    assert ((grad_f - grad_e).norm() / grad_e.norm()).item() < 1e-5


@pytest.mark.parametrize("cls", ["vanilla", "star"])
@pytest.mark.parametrize("batch, tokens, dim, heads", [(3, 27, 32, 4), (2, 243, 64, 2), (2, 17, 40, 4), (1, 130, 24, 3)])
def test_sdpa_branch_of_the_fused_path_agrees_with_explicit(cls, batch, tokens, dim, heads, monkeypatch):
    """Short sequences normally take the CPU kernel; force the SDPA (long-sequence, GPU) branch.
    Outputs and the gradients of the input and every parameter must agree."""
    monkeypatch.setattr(attention_module, "SMALL_SEQ_MAX", 0)
    torch.manual_seed(3)
    layer = StarAttention(dim, seq_len=tokens, num_heads=heads) if cls == "star" else Attention(dim, num_heads=heads)
    x = torch.randn(batch, tokens, dim, requires_grad=True)
    outs = []
    for fused in (True, False):
        layer.fused = fused
        layer.zero_grad()
        x.grad = None
        out = layer(x)
        out.square().sum().backward()
        outs.append(torch.cat([out.flatten(), x.grad.flatten()] + [p.grad.flatten() for p in layer.parameters()]))
    assert ((outs[0] - outs[1]).norm() / outs[1].norm()).item() < 1e-5


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
def test_fused_temporal_attention_at_243_frames_never_materialises_frames_by_frames(cls):
    torch.manual_seed(0)
    layer = StarAttention(64, seq_len=243, num_heads=2) if cls == "star" else Attention(64, num_heads=2)
    layer.fused = False
    assert _square_tensors(layer, 243)  # the recorder does see the explicit path's logits
    layer.fused = True
    assert _square_tensors(layer, 243) == []


def test_evaluation_timing_reports_the_model_alone_beside_the_whole_evaluation(tiny_dataset_dir):
    result = bench.evaluation_time(CPU, "tiny", tiny_dataset_dir, bench.TINY, log=lambda _: None)
    assert result["sequences"] > 0 and result["frames"] > 0
    assert 0 < result["model_s"] and 0 < result["evaluate_s"] <= result["total_s"]
    assert result["evaluate_over_model"] == pytest.approx(result["evaluate_s"] / result["model_s"])
    assert "the model alone" in bench.format_table({"machine": bench.machine_info(CPU), "rows": [],
                                                    "evaluation": result})
