"""Rendered results keep the input's clock: the animation's label shows the input's frame number
(and time), the trajectory plot's time axis starts at the result's ``time_s``."""
from __future__ import annotations

import numpy as np
import pytest

from starpose.cli import main
from starpose.lift import write_result
from starpose.viz import animation, plots


def test_the_label_names_the_input_frame_and_time():
    label = animation.frame_label(np.arange(1200, 1393), np.arange(1200, 1393) / 30.0, 193)
    assert label(96) == "frame 1296, 43.20 s"
    assert animation.frame_label(np.arange(5, 9), np.full(4, np.nan), 4)(0) == "frame 5"  # time unknown
    assert animation.frame_label(None, None, 193)(96) == "frame 97/193"  # nothing stored: the old label


def test_the_time_axis_starts_at_the_inputs_time():
    assert plots.time_axis(3, 25.0, np.array([100, 101, 102]), np.array([4.0, 4.04, 4.08]))[0] == 4.0
    assert plots.time_axis(3, 25.0, np.array([100, 101, 102]), None) == pytest.approx([4.0, 4.04, 4.08])
    assert plots.time_axis(3, None, np.array([100, 102, 104]), None).tolist() == [100, 102, 104]
    assert plots.time_axis(3, 50.0).tolist() == [0.0, 0.02, 0.04]


def test_render_passes_the_results_frame_numbers_and_times(tmp_path, monkeypatch):
    frames = 12
    rng = np.random.default_rng(0)
    index = np.arange(500, 500 + 2 * frames, 2)  # every other frame of the input, from frame 500
    result = {"positions_3d": rng.normal(0, 0.3, (frames, 17, 3)).astype(np.float32),
              "keypoints_2d": rng.uniform(0, 900, (frames, 17, 2)), "confidence": np.ones((frames, 17)),
              "filled": np.zeros((frames, 17), bool), "joint_names": [f"j{k}" for k in range(17)],
              "fps": 25.0, "image_size": (1000, 1000), "source": "x", "source_format": "array",
              "name": "walk", "frame_index": index, "time_s": index / 25.0}
    from starpose.data.skeleton import H36M_17

    result["joint_names"] = list(H36M_17.names)
    path = write_result(result, tmp_path / "r.npz")
    labels, axes = [], []
    real_label, real_axis = animation.frame_label, plots.time_axis
    monkeypatch.setattr(animation, "frame_label", lambda *a: labels.append(real_label(*a)) or labels[-1])
    monkeypatch.setattr(plots, "time_axis", lambda *a: axes.append(real_axis(*a)) or axes[-1])
    assert main(["render", str(path), "--out", str(tmp_path / "r.gif"), "--plot", str(tmp_path / "t.png")]) == 0
    assert labels[-1](0) == "frame 500, 20.00 s" and labels[-1](11) == "frame 522, 20.88 s"
    assert axes[-1][0] == pytest.approx(20.0) and axes[-1][-1] == pytest.approx(20.88)
