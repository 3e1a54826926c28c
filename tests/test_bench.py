"""The benchmark machinery on a tiny model (the attention kernels' equivalence and memory
property are tested in test_kernels.py)."""
import pytest
import torch

from starpose.bench import run as bench
from starpose.bench import report as bench_report

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


def test_training_steps_are_measured_side_by_side_and_the_ratio_is_the_rounds_median():
    from dataclasses import replace
    import statistics

    config = replace(bench.TINY, reps=5)
    log = []
    rows = bench.run_models([config], CPU, memory=False, log=log.append)
    assert sum("5 interleaved rounds of explicit, fused" in line for line in log) == 2  # vanilla, star
    for explicit, fused in (rows[0:2], rows[2:4]):
        assert len(explicit["train_step_s"]) == len(fused["train_step_s"]) == 5
        ratios = [e / f for e, f in zip(explicit["train_step_s"], fused["train_step_s"])]
        assert fused["speedup_vs_explicit"] == pytest.approx(statistics.median(ratios))
        q1, q3 = fused["speedup_spread"]
        assert min(ratios) <= q1 <= fused["speedup_vs_explicit"] <= q3 <= max(ratios)
        assert explicit["speedup_vs_explicit"] == 1.0
    text = bench_report.format_table({"machine": bench_report.machine_info(CPU), "rows": rows})
    assert f"{rows[3]['speedup_vs_explicit']:.2f}x ({q1:.2f}-{q3:.2f})" in text


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


def test_inference_rows_compare_every_variant_with_the_published_forward():
    from starpose.bench import inference as bench_inference

    names = ("published", "reference", "auto", "onnxruntime")
    rows = bench_inference.inference_rows(bench_inference.TINY_INFER, "star", names, log=lambda _: None)
    assert [r["variant"] for r in rows] == list(names)
    for row in rows:
        assert row["frames_per_s"] > 0 and row["vs_published"] > 0 and row["cpu_vs_published"] > 0
        assert row["max_rel_error"] < 1e-5  # fp32 everywhere: the reference kernel's output
    assert rows[0]["vs_published"] == 1.0 and rows[1]["max_rel_error"] == 0.0


def test_the_inference_table_and_lift_lines_are_printed():
    from starpose.bench import inference as bench_inference

    rows = bench_inference.inference_rows(bench_inference.TINY_INFER, "vanilla", ("published", "auto"),
                                          log=lambda _: None)
    result = {"machine": bench_report.machine_info(CPU), "inference": rows,
              "inference_configs": [bench_inference.TINY_INFER],
              "lift": {"frames": 10000, "model": "m", "attention": "star", "seconds": 2.0, "frames_per_s": 5000.0},
              "lift_rss": {"fps": 50, "model": "m", "probes": [
                  {"minutes": 10, "frames": 30000, "seconds": 3.0, "peak_rss_bytes": 300 * 2**20}]}}
    text = bench_report.format_table(result)
    assert "| config | attention | variant |" in text and text.count("| tiny | vanilla |") == 2
    assert "cpu: bf16 " in text and "load average at the start" in text and "train fr/s" not in text
    assert "10,000 frames" in text and "5000 frames/s" in text and "10 min (30,000 frames, 3 s): 300 MB" in text


def test_inference_runs_at_one_and_every_thread_and_beside_a_busy_neighbour():
    from starpose.bench import inference as bench_inference
    from starpose.inference.threads import usable_cores

    rows = bench_inference.run_inference([bench_inference.TINY_INFER], attentions=("star",),
                                         names=("published", "auto"), log=lambda _: None)
    quiet = [r for r in rows if r["neighbour"] is None]
    assert sorted({r["threads"] for r in quiet}) == bench_inference.thread_counts()
    assert 1 in bench_inference.thread_counts() and usable_cores() in bench_inference.thread_counts()
    for row in rows:
        assert (row["vs_published_min"] <= row["vs_published_q1"] <= row["vs_published"]
                <= row["vs_published_q3"] <= row["vs_published_max"])
    busy = [r for r in rows if r["neighbour"] is not None]
    if usable_cores() > 1:  # this project's machines have 2 cores
        assert {r["variant"] for r in busy} == {"published", "auto"}
        assert any(r["neighbour"] == "auto" for r in busy)
        assert any(r["threads"] == usable_cores() for r in busy)
    text = bench_report.format_table({"machine": bench_report.machine_info(CPU, allocator_kept=True),
                                      "inference": rows, "inference_configs": [bench_inference.TINY_INFER]})
    assert "vs published (median, middle half)" in text and "busy neighbour" in text
    assert f"{rows[1]['vs_published']:.2f}x ({rows[1]['vs_published_q1']:.2f}-{rows[1]['vs_published_q3']:.2f})" in text
    assert "allocator: freed memory kept in the process" in text
    assert "CPU attention: " in text


def test_the_busy_neighbour_is_gone_afterwards():
    from starpose.bench.inference import busy_neighbour

    with busy_neighbour() as process:
        assert process.poll() is None
    assert process.poll() is not None


def test_lift_end_to_end_reads_a_coco_file_and_writes_every_frame():
    from starpose.bench import inference as bench_inference

    result = bench_inference.lift_throughput(bench_inference.TINY_INFER, frames=120)
    assert result["frames"] == 120 and result["frames_per_s"] > 0


def test_the_peak_memory_probe_lifts_a_recording_in_a_subprocess():
    from starpose.bench import inference as bench_inference

    result = bench_inference.lift_peak_rss((0.05,), config=bench_inference.TINY_INFER, log=lambda _: None)
    (probe,) = result["probes"]
    assert probe["frames"] == 150 and probe["peak_rss_bytes"] > 50 * 2**20


def test_bench_refuses_inference_only_with_no_inference(capsys):
    from starpose.cli import main

    assert main(["bench", "--inference-only", "--no-inference"]) == 2
    assert "exclude each other" in capsys.readouterr().err


def test_bench_options_choose_the_inference_rows():
    from starpose.cli import build_parser
    from starpose.commands.bench import inference_part

    def part(*argv):
        args = build_parser().parse_args(["bench", *argv])
        return inference_part(args, args.quick)

    quick = part("--quick", "--amp", "none")
    assert quick["names"] == ["published", "reference", "auto", "onnxruntime"]
    assert quick["rss_minutes"] == (2, 12) and [c.batch for c in quick["configs"]] == [16, 1]
    full = part("--amp", "bf16", "--configs", "paper", "--rss-minutes", "0")
    assert full["names"][-2:] == ["onnxruntime", "auto+bf16"] and "compiled" in full["names"]
    assert full["rss_minutes"] is None and [c.name for c in full["configs"]] == ["paper"]
    assert "compiled" not in part("--no-compile", "--rss-minutes", "5,30")["names"]
    assert part("--no-inference") is None
