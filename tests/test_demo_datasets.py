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
