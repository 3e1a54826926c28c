"""`demo --dataset`: a dataset whose evaluation the demo's report cannot show is refused in one
line before anything is generated or written."""
from __future__ import annotations

from starpose.cli import main
from starpose.datasets.registry import dataset_names, get_dataset


def test_demo_refuses_3dhp_in_one_line_and_writes_nothing(tmp_path, capsys):
    code = main(["demo", "--dataset", "3dhp", "--out", str(tmp_path / "report"),
                 "--data-dir", str(tmp_path / "data")])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1
    assert err.startswith("starpose demo: error: --dataset 3dhp: the demo's report has no place for MPI-INF-3DHP")
    assert "docs/mpi-inf-3dhp.md" in err
    assert list(tmp_path.iterdir()) == []


def test_only_datasets_with_their_own_report_are_refused():
    refused = [name for name in dataset_names() if get_dataset(name).evaluate_report is not None]
    assert refused == ["3dhp"]  # h36m and humaneva run (tests/test_demo.py)


def test_quick_says_why_the_bundled_numbers_differ_from_the_published_ones(tiny_dataset_dir, tmp_path, capsys):
    import json
    import re

    from starpose.models.bundled import read_manifest

    out = tmp_path / "quick"
    assert main(["demo", "--quick", "--out", str(out), "--data-dir", str(tiny_dataset_dir)]) == 0
    printed = capsys.readouterr().out
    note = next(line for line in printed.splitlines() if line.startswith("Bundled model: "))
    shown, total = map(int, re.search(r"evaluates (\d+) \(every 7th\) of the (\d+) test sequences", note).groups())
    assert shown == -(-total // 7)
    published = read_manifest()["numbers"]
    assert f"({published['h36m_published']['mpjpe']:.1f} mm protocol #1" in note
    assert f"acceleration error {published['h36m_clean']['accel_error']:.1f} mm with overlapping" in note
    overlap = json.loads((out / "metrics.json").read_text())["models"]["bundled"]["clean_overlap"]
    assert f"({overlap['Average']['accel_error']:.2f} mm with overlapping windows" in note
    assert note in (out / "report.md").read_text()
