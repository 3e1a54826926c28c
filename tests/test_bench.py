"""The benchmark machinery on a tiny model (the attention kernels' equivalence and memory
property are tested in test_kernels.py)."""
import pytest
import torch

from starpose import bench, bench_report

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
    text = bench_report.format_table(result)
    assert "| config | attention | path |" in text and text.count("| tiny |") == 4


def test_memory_probe_runs_in_a_subprocess_and_gives_an_estimate():
    mem = bench.measure_memory(bench.TINY, bench.Variant("star", "auto"), CPU)
    assert mem["peak_bytes"] > 0 and mem["params"] > 0
    assert bench.max_batch_estimate(mem["peak_bytes"], mem["params"], 2, bench_report.CPU_CAPACITY) > 0


def test_flops_count_matmuls_only_and_star_adds_its_term():
    fwd_v, train_v = bench.flops_per_frame(bench.TINY, "vanilla")
    fwd_s, train_s = bench.flops_per_frame(bench.TINY, "star")
    assert 0 < fwd_v < fwd_s and train_v == pytest.approx(3 * fwd_v, rel=0.01)


def test_evaluation_timing_reports_the_model_alone_beside_the_whole_evaluation(tiny_dataset_dir):
    result = bench.evaluation_time(CPU, "tiny", tiny_dataset_dir, bench.TINY, log=lambda _: None)
    assert result["sequences"] > 0 and result["frames"] > 0
    assert 0 < result["model_s"] and 0 < result["evaluate_s"] <= result["total_s"]
    assert result["evaluate_over_model"] == pytest.approx(result["evaluate_s"] / result["model_s"])
    assert "the model alone" in bench_report.format_table({"machine": bench_report.machine_info(CPU), "rows": [],
                                                    "evaluation": result})
