"""``starpose evaluate --trajectory`` on a synthetic set through varied cameras: the table and
the JSON hold root error, W-MPJPE and foot sliding for the geometric root and the model's."""
import json

import pytest

from starpose.cli import main
from starpose.datasets.h36m.synthetic import generate_dataset


@pytest.fixture(scope="module")
def varied(tmp_path_factory):
    folder = tmp_path_factory.mktemp("varied")
    generate_dataset(folder, "tiny", 0, progress=False, cameras="varied")
    return folder


def test_trajectory_scores_of_walks_through_varied_cameras(varied, tmp_path, capsys):
    out = tmp_path / "scores.json"
    assert main(["evaluate", "--data-dir", str(varied), "--keypoints", "noisy", "--checkpoint",
                 "bundled", "--trajectory", "--subjects", "S9", "--actions", "Walking",
                 "--json", str(out)]) == 0
    text = capsys.readouterr().out
    assert "W-MPJPE" in text and "geometric" in text and "model" in text
    tables = json.loads(out.read_text())["tables"]["trajectory"]
    for method in ("geometric", "model"):
        rows = tables[method]
        assert rows["all"]["sequences"] == 8  # 2 walks x 4 cameras
        assert rows["h36m camera"]["sequences"] == 2 and rows["other cameras"]["sequences"] == 6
        everything = rows["all"]
        assert 0 < everything["root_per_distance"] < 0.2
        assert everything["root_mm"] == pytest.approx(everything["root_mm"])  # a number
        assert 0 < everything["w_mpjpe_mm"] < 1000
        assert everything["sliding_after_mm"] < everything["sliding_before_mm"]
    assert tables["model"]["all"]["root_per_distance"] < tables["geometric"]["all"]["root_per_distance"]
