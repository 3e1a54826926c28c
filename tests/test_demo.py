"""The demo end to end on tiny data with a shortened recipe, and its bad input."""
import json

import numpy as np
import pytest

from starpose.cli import main
from starpose.datasets.h36m.files import load_h36m
from starpose.demo import DEMO_TRAINING, comparison_table, mean_pose_baseline, run_demo

SHORT = dict(epochs=1, max_batches_per_epoch=2, batch_size=8, val_stride=16, eval_batch_size=64)
#: The HumanEva-I demo's recipe, shortened further: a narrower model, one test subject.
SHORT_HUMANEVA = dict(SHORT, model_overrides={"dim": 16, "depth": 1, "num_heads": 2},
                      subjects_test=("Validate/S2",))


@pytest.mark.slow
def test_compare_writes_the_whole_report(tiny_dataset_dir, tmp_path, capsys):
    out = tmp_path / "report"
    results = run_demo(out, tiny_dataset_dir, compare=True, **SHORT)
    assert [r.attention for r in results] == ["star", "vanilla", "bundled"]  # the bundled model: a reference row
    for name in ("report.md", "training_curves.png", "per_joint_error.png", "sequence.gif", "metrics.json"):
        assert (out / name).stat().st_size > 0, name
    summary = json.loads((out / "metrics.json").read_text())
    assert set(summary["models"]) == {"star", "vanilla", "bundled"}
    assert not summary["models"]["bundled"]["trained_by_demo"] and summary["models"]["star"]["trained_by_demo"]
    for name, model in summary["models"].items():
        assert np.isfinite(model["published"]["Average"]["mpjpe"])
        assert np.isfinite(model["clean"]["Average"]["accel_error"])
        if name == "bundled":  # a reference row: its overlapping-windows figure is the manifest's
            assert model["clean_overlap"] is None
        else:
            assert np.isfinite(model["clean_overlap"]["Average"]["accel_error"])
        assert len(model["per_joint_mm"]) == 17
    printed = capsys.readouterr().out
    assert "mean-pose baseline" in printed and "| star |" in printed and "| vanilla |" in printed
    assert "| bundled (reference) |" in printed
    assert "protocol #1:" in printed
    report = (out / "report.md").read_text()
    assert "vanilla attention, clean protocol" in report and "sequence.gif" in report
    assert "with overlapping windows" in report
    assert not list(out.glob(".*")), "temporary files left behind"


def test_quick_reports_the_bundled_model_alone(tiny_dataset_dir, tmp_path, capsys):
    out = tmp_path / "quick"
    assert main(["demo", "--quick", "--out", str(out), "--data-dir", str(tiny_dataset_dir)]) == 0
    summary = json.loads((out / "metrics.json").read_text())
    assert list(summary["models"]) == ["bundled"] and not summary["models"]["bundled"]["trained_by_demo"]
    assert np.isfinite(summary["models"]["bundled"]["published"]["Average"]["mpjpe"])
    assert not list(out.glob("run-*")) and not (out / "training_curves.png").exists()
    report = (out / "report.md").read_text()
    assert "The bundled model" in report and "every 7th test sequence" in report
    assert "| bundled (reference) |" in capsys.readouterr().out


@pytest.mark.slow
def test_humaneva_demo_trains_its_preset_and_evaluates_walk_jog_box(tiny_humaneva_dir, tmp_path, capsys):
    out = tmp_path / "report"
    run_demo(out, tiny_humaneva_dir, dataset="humaneva", **SHORT_HUMANEVA)
    assert "using the synthetic HumanEva-I dataset" in capsys.readouterr().out
    summary = json.loads((out / "metrics.json").read_text())
    model = summary["models"]["star"]
    assert summary["dataset"] == "humaneva" and model["preset"] == "star-mixste-27-humaneva"
    assert len(model["per_joint_mm"]) == 15
    assert set(model["published"]) == {"Walking", "Jog", "Box", "Average"}
    assert np.isfinite(model["clean"]["Average"]["accel_error"]) and summary["baseline_mpjpe"] > 0
    assert (out / "sequence.gif").stat().st_size > 0
    report = (out / "report.md").read_text()
    assert "synthetic HumanEva-I `small` set" in report and "test Validate/S2; actions Walk, Jog, Box" in report


def test_mean_pose_baseline_is_counted_like_the_models(tiny_dataset_dir):
    """Published counting: per action, the windows' frames (an overlapping last window counts
    twice) weight each sequence; the root joint is predicted exactly (0) and counts in the mean."""
    train = load_h36m(tiny_dataset_dir, "gt", ("S1", "S5"))
    test = load_h36m(tiny_dataset_dir, "gt", ("S9",))
    frames = 27
    mean = np.concatenate([s.positions_3d for s in train])[:, 1:].mean(axis=0)
    sums, counts = {}, {}
    for s in test:
        starts = list(range(0, s.num_frames - frames + 1, frames))
        if starts[-1] + frames < s.num_frames:
            starts.append(s.num_frames - frames)  # the last window, aligned to the end
        frames_counted = np.concatenate([s.positions_3d[b:b + frames, 1:] for b in starts])
        per_frame = np.linalg.norm(frames_counted - mean, axis=-1).sum(-1) / 17
        sums[s.action_group] = sums.get(s.action_group, 0.0) + per_frame.sum()
        counts[s.action_group] = counts.get(s.action_group, 0) + len(per_frame)
    expected = 1000 * np.mean([sums[a] / counts[a] for a in sums])
    assert mean_pose_baseline(train, test, frames)["mpjpe"] == pytest.approx(expected, rel=1e-5)


def test_comparison_table_lists_each_model_and_the_baseline():
    class Result:
        def __init__(self, attention, value):
            avg = {"mpjpe": value, "p_mpjpe": value / 2, "mpjve": 1.0, "accel_error": 2.0}
            self.attention, self.seconds, self.rows = attention, 12.0, []
            self.published, self.clean = {"Average": avg}, {"Average": avg}

    table = comparison_table([Result("star", 50.0), Result("vanilla", 60.0)], {"mpjpe": 200.0})
    assert "| star | 50.00 | 25.00 | 1.00 | 2.00 | 12 |" in table
    assert "| vanilla | 60.00 | 30.00 |" in table and "| mean-pose baseline | 200.00 |" in table


def test_demo_recipe_fits_a_cpu():
    assert DEMO_TRAINING["preset"].startswith("star-mixste-")
    assert DEMO_TRAINING["epochs"] * DEMO_TRAINING["max_batches_per_epoch"] * DEMO_TRAINING["batch_size"] <= 30_000


def test_bad_output_or_data_folder_is_one_clear_error(tmp_path, capsys):
    a_file = tmp_path / "file.txt"
    a_file.write_text("x")
    assert main(["demo", "--out", str(a_file), "--data-dir", str(tmp_path / "d")]) == 2
    assert "is not a folder" in capsys.readouterr().err
    assert main(["demo", "--out", str(tmp_path / "o"), "--data-dir", str(a_file)]) == 2
    err = capsys.readouterr().err
    assert "file.txt" in err and "Traceback" not in err
    assert not (tmp_path / "o").exists()
