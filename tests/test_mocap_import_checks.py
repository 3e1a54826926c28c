"""`mocap import`: actions from file names (or a mapping file) printed; warnings with the numbers
for implausible body heights and for joints outside the cameras' images."""
from __future__ import annotations

import json
import re
import warnings

import pytest

from starpose.cli import main
from starpose.data.safe_pickle import load_npz
from starpose.datasets.h36m.layout import h36m_cameras
from starpose.errors import DataError, StarposeWarning
from starpose.mocap.actions import take_actions
from starpose.mocap.dataset import import_clips
from tests.test_mocap_bvh import make_bvh
from tests.test_mocap_import import STATURE_CM, _walk

DATASET = ["dataset-1_walk_normal_001.bvh", "dataset-1_walk_fast_002.bvh",
           "dataset-1_run_normal_001.bvh", "dataset-1_jump_high_001.bvh"]


@pytest.mark.parametrize("names, source, expected", [
    (DATASET, "auto", ["walk normal 001", "walk fast 002", "run normal 001", "jump high 001"]),
    (DATASET, "stem", ["dataset-1 walk normal 001", "dataset-1 walk fast 002",
                       "dataset-1 run normal 001", "dataset-1 jump high 001"]),
    (["walk_01.bvh", "walk_02.bvh"], "auto", ["walk 01", "walk 02"]),  # 'walk' is not dropped
    (["S1_box_2.bvh", "S1_sit down_1.bvh"], "auto", ["box 2", "sit down 1"]),
    (["dataset-1_walk_normal_001.bvh"], "auto", ["walk dataset-1 normal 001"]),
    (["01_01.bvh", "02_03.bvh"], "auto", ["01 01", "02 03"]),  # CMU: numbers only, kept
])
def test_actions_are_derived_from_file_names(names, source, expected):
    assert take_actions(names, source) == expected


def test_a_mapping_file_names_the_actions(tmp_path):
    mapping = tmp_path / "actions.json"
    mapping.write_text(json.dumps({"01_01.bvh": "walk", "02_03": "jump"}))
    assert take_actions(["cmu/01_01.bvh", "cmu/02_03.bvh"], str(mapping)) == ["walk 01 01", "jump 02 03"]
    with pytest.raises(DataError, match=r"actions.json: no action for cmu/05_01.bvh"):
        take_actions(["cmu/05_01.bvh"], str(mapping))


def _clips(folder, names, frames=100, speed=1.0):
    folder.mkdir(exist_ok=True)
    paths = []
    for k, name in enumerate(names):
        motion = _walk(frames, k)
        motion["Hips"][:, 2] *= speed
        (folder / name).write_text(make_bvh(motion, frames=frames, frame_time=0.02))
        paths.append(folder / name)
    return paths


def test_import_prints_the_actions_found(tmp_path, capsys):
    paths = _clips(tmp_path / "clips", DATASET)
    assert main(["mocap", "import", *map(str, paths), "--out", str(tmp_path / "data"),
                 "--subjects", "S1,S5"]) == 0
    out = capsys.readouterr().out
    assert "actions: walk (2 takes), run (1 take), jump (1 take)" in out
    actions = load_npz(tmp_path / "data" / "data_3d_h36m.npz")["positions_3d"]
    assert sorted(actions["S1"]) == ["run normal 001", "walk normal 001"]


def test_an_implausible_height_is_warned_about_with_the_likely_unit(tmp_path, capsys):
    paths = _clips(tmp_path / "clips", ["walk_01.bvh"])  # centimetres
    assert main(["mocap", "import", str(paths[0]), "--out", str(tmp_path / "d"), "--unit", "cmu",
                 "--cameras", "ring:4"]) == 0
    err = capsys.readouterr().err
    tall = STATURE_CM * 0.0254 / 0.45
    assert (f"warning: {paths[0]}: the person is {tall:.2f} m tall in unit cmu (expected 1-2.3 m); "
            f"is the unit right; in cm it would be {STATURE_CM / 100:.2f} m?") in err
    with warnings.catch_warnings():
        warnings.simplefilter("error", StarposeWarning)  # the right unit: no warning at all
        import_clips(paths, tmp_path / "d2", unit="cm")


def test_joints_outside_the_image_are_counted_and_warned_about(tmp_path):
    """A walk of 10 m leaves the Human3.6M cameras' view; the warning's share is the share of
    frames (over all views) with a joint outside the image, counted here from the written file."""
    long = _clips(tmp_path / "long", ["far_walk.bvh"], frames=400, speed=2.0)
    short = _clips(tmp_path / "short", ["near_walk.bvh"], frames=60, speed=0.2)
    with pytest.warns(StarposeWarning) as caught:
        import_clips(long + short, tmp_path / "data", subjects=("S1",))
    views = load_npz(tmp_path / "data" / "data_2d_h36m_gt.npz")["positions_2d"]["S1"]
    outside = total = 0
    per_take = {}
    for action, clip_views in views.items():
        hit = 0
        for view, camera in zip(clip_views, h36m_cameras("S1")):
            off = ((view < 0) | (view >= [camera.res_w, camera.res_h])).any(axis=(1, 2))
            hit += int(off.sum())
            total += len(view)
        per_take[action] = hit / (len(clip_views) * len(clip_views[0]))
        outside += hit
    assert per_take["far walk"] > 0.2 and per_take["near walk"] == 0
    messages = [str(w.message) for w in caught]
    assert len(messages) == 1
    share = re.search(r"^([\d.]+) % of the imported frames", messages[0])
    assert share and float(share.group(1)) == pytest.approx(100 * outside / total, abs=0.05)
    assert f"in 1 of 2 takes ({long[0]} {100 * per_take['far walk']:.1f} %)" in messages[0]
    assert "'ring:N' cameras frame the whole motion" in messages[0]
