"""The fuzzing table: one ``Reader`` row per file reader (see :mod:`tests.fuzz_harness`).

Each row writes a small valid file and loads it as starpose does. Readers added later (BVH,
HumanEva, MPI-INF-3DHP) each append one row to :data:`READERS`.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from starpose.datasets.h36m.files import load_h36m
from starpose.data.safe_pickle import write_npz
from starpose.datasets.h36m.synthetic import generate_arrays, keypoints_metadata
from starpose.formats import load_keypoints
from starpose.lift.results import read_result, write_result
from starpose.models.checkpoints import export_checkpoint, load_model, save_checkpoint
from starpose.models.mixste import MixSTE, MixSTEConfig
from tests import keypoint_writers as kw
from tests.fuzz_harness import Reader

FRAMES = 12


def _h36m_folder(folder: Path) -> Path:
    """One subject, one take, FRAMES frames: the smallest complete Human3.6M-format pair."""
    arrays = generate_arrays("tiny", seed=0, subjects=("S1",))
    take = sorted(arrays["3d"]["S1"])[0]
    write_npz(folder / "data_3d_h36m.npz", positions_3d={"S1": {take: arrays["3d"]["S1"][take][:FRAMES]}})
    views = [v[:FRAMES] for v in arrays["gt"]["S1"][take]]
    write_npz(folder / "data_2d_h36m_gt.npz", positions_2d={"S1": {take: views}}, metadata=keypoints_metadata())
    return folder


def _load_h36m(path: Path):
    return load_h36m(path.parent, "gt", subjects=["S1"])


def _xy():
    return kw.fake_motion(frames=FRAMES)[1]


def _result() -> dict:
    rng = np.random.default_rng(0)
    return {"positions_3d": rng.normal(size=(FRAMES, 17, 3)).astype(np.float32),
            "keypoints_2d": rng.uniform(0, 500, size=(FRAMES, 17, 2)).astype(np.float32),
            "confidence": np.ones((FRAMES, 17), np.float32), "filled": np.zeros((FRAMES, 17), bool),
            "joint_names": list(kw.H36M), "fps": 50.0, "image_size": (1000.0, 800.0),
            "source": "clip.json", "source_format": "coco", "name": "clip"}


def _checkpoint(folder: Path) -> Path:
    """The same bytes on every run (seeded weights), so that a failing case reproduces by its seed."""
    with torch.random.fork_rng():
        torch.manual_seed(0)
        model = MixSTE.from_config(MixSTEConfig(num_frames=9, dim=8, depth=1, num_heads=2))
    return save_checkpoint(folder / "model.pt", model, epoch=1)


def _keypoints(fmt: str):
    return lambda path: load_keypoints(path, fmt, width=1000, height=800)


READERS = [
    Reader("h36m-3d", lambda d: _h36m_folder(d) / "data_3d_h36m.npz", _load_h36m),
    Reader("h36m-2d", lambda d: _h36m_folder(d) / "data_2d_h36m_gt.npz", _load_h36m),
    Reader("coco", lambda d: kw.write_coco_results(d / "coco.json", _xy()), _keypoints("coco")),
    Reader("coco-auto", lambda d: kw.write_coco_frames(d / "frames.json", _xy()), _keypoints("auto")),
    Reader("mediapipe-json", lambda d: kw.write_mediapipe_json(d / "mp.json", _xy()), _keypoints("mediapipe")),
    Reader("mediapipe-csv", lambda d: kw.write_mediapipe_csv(d / "mp.csv", _xy()), _keypoints("mediapipe")),
    Reader("openpose", lambda d: sorted(kw.write_openpose_dir(d / "op", _xy()).glob("*.json"))[FRAMES // 2],
           lambda path: load_keypoints(path.parent, "openpose", width=1000, height=800)),
    Reader("videopose3d", lambda d: kw.write_videopose3d(d / "vp3d.npz", {"clip": _xy()}), _keypoints("videopose3d")),
    Reader("h36m-npy", lambda d: kw.write_npy(d / "kp.npy", _xy()),
           lambda path: load_keypoints(path, "h36m", width=1000, height=800)),
    Reader("result-npz", lambda d: write_result(_result(), d / "r.npz"), read_result),
    Reader("result-json", lambda d: write_result(_result(), d / "r.json"), read_result),
    Reader("checkpoint-starpose", _checkpoint, load_model),
    Reader("checkpoint-published", lambda d: export_checkpoint(_checkpoint(d), "mixste", d / "pub.pth"),
           lambda path: load_model(path, num_heads=2)),
]
