"""``starpose evaluate --robustness``: the four camera sets and the table."""
import json

import numpy as np
import pytest
import torch

from starpose.cli import main
from starpose.evaluate.robustness import CAMERA_SETS, robustness_sequences, set_cameras, held_out_takes
from starpose.models.checkpoints import save_checkpoint
from starpose.models.mixste import MixSTE
from starpose.models.presets import get_preset


@pytest.fixture(scope="module")
def takes(tiny_dataset_dir):
    return held_out_takes(tiny_dataset_dir, ("S9",), stride=15)


def test_camera_sets_film_what_they_promise(takes):
    world = next(iter(takes["S9"].values()))
    ring = set_cameras("ring", "S9", world)
    assert len(ring) == 6 and {(c.res_w, c.res_h) for c in ring} == {(1920, 1080)}
    heights = sorted(c.translation[2] for c in ring)
    assert heights[0] == pytest.approx(0.4) and heights[-1] == pytest.approx(2.3)
    for name, size in (("4k-offcentre", (3840, 2160)), ("portrait", (1080, 1920))):
        assert {(c.res_w, c.res_h) for c in set_cameras(name, "S9", world)} == {size}
    seqs = robustness_sequences("4k-offcentre", takes)
    centre_x = np.mean([((s.keypoints_2d[..., 0] + 1) / 2).mean() for s in seqs])
    assert 0.15 < centre_x < 0.35  # the person a quarter of the width from the left
    assert len(robustness_sequences("h36m", takes)) == 4 * len(takes["S9"])
    # (e): the ring's takes and 2D, lifted with the typical lens instead of the ring's 62 degrees.
    ring, unknown = robustness_sequences("ring", takes), robustness_sequences("ring-unknown-lens", takes)
    for a, b in zip(ring, unknown):
        np.testing.assert_array_equal(a.keypoints_2d, b.keypoints_2d)
        np.testing.assert_array_equal(a.positions_3d, b.positions_3d)
        assert b.camera.focal_length[0] == pytest.approx(960 / np.tan(np.radians(35)))
        assert a.camera.focal_length[0] == pytest.approx(960 / np.tan(np.radians(31)))


def test_robustness_table_from_the_command_line(tiny_dataset_dir, tmp_path, capsys):
    torch.manual_seed(0)
    model = MixSTE.from_config(get_preset("star-mixste-27").model)
    save_checkpoint(tmp_path / "m.pt", model)
    out = tmp_path / "rob.json"
    args = ["evaluate", "--data-dir", str(tiny_dataset_dir), "--checkpoint", str(tmp_path / "m.pt"),
            "--robustness", "--subjects", "S9", "--take-stride", "15", "--json", str(out)]
    assert main(args) == 0
    text = capsys.readouterr().out
    for title in CAMERA_SETS.values():
        assert title in text
    rows = json.loads(out.read_text())["robustness"]
    assert list(rows) == list(CAMERA_SETS) and rows["h36m"]["ratio"] == 1.0
    assert all(np.isfinite(r["mpjpe"]) and r["p_mpjpe"] <= r["mpjpe"] for r in rows.values())


@pytest.mark.parametrize("extra, message", [
    (["--robustness", "--protocol", "clean"], "--protocol"),
    (["--robustness", "--keypoints", "noisy"], "--keypoints"),
    (["--take-stride", "2"], "only used with --robustness"),
])
def test_options_it_does_not_use_are_refused(tiny_dataset_dir, tmp_path, capsys, extra, message):
    assert main(["evaluate", "--data-dir", str(tiny_dataset_dir), "--checkpoint", "bundled",
                 "--json", str(tmp_path / "x.json")] + extra) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err
    assert not (tmp_path / "x.json").exists()
