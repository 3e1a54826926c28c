"""Packaging the bundled model (:mod:`starpose.models.bundled`) from a checkpoint that
``starpose train --recipe bundled`` wrote: weights without optimiser state, the manifest, and the
self-check number that the tests recompute."""
from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import numpy as np

from starpose import __version__
from starpose.datasets.h36m.files import load_h36m
from starpose.datasets.h36m.synthetic import generate_dataset
from starpose.inference.predictors import predict_sequence
from starpose.io import atomic_write_text
from starpose.models.bundled import MANIFEST_FILE, WEIGHTS_FILE, file_sha256
from starpose.models.checkpoints import config_dict, load_model, save_checkpoint
from starpose.train.recipes import BUNDLED as RECIPE


#: What the self-check lifts: camera 0 of subject S9 in ``starpose synth --preset tiny --seed 0``.
SELF_CHECK = dict(synth_preset="tiny", seed=0, subjects=["S9"], keypoints="noisy", camera=0, tolerance_mm=0.5)


def self_check_mpjpe(model, data_dir: str | os.PathLike) -> float:
    """MPJPE (mm, root-relative, every frame once) of ``model`` lifting :data:`SELF_CHECK`'s
    sequences of the synthetic set in ``data_dir`` the way ``starpose lift`` does (overlapping
    windows, flip averaging)."""
    errors = []
    for seq in load_h36m(data_dir, SELF_CHECK["keypoints"], SELF_CHECK["subjects"]):
        if seq.camera_index != SELF_CHECK["camera"]:
            continue
        pred = predict_sequence(model, seq.keypoints_2d)
        truth = np.array(seq.positions_3d, dtype=np.float32)
        truth[:, 0] = 0.0
        errors.append(np.linalg.norm(pred - truth, axis=-1).reshape(-1))
    return 1000 * float(np.concatenate(errors).mean())


def package(checkpoint: str | os.PathLike, out_dir: str | os.PathLike, numbers: dict | None = None,
            check_data_dir: str | os.PathLike | None = None) -> Path:
    """Write ``bundled.pt`` (weights of ``checkpoint`` without optimiser state) and ``bundled.json``
    into ``out_dir``; returns the weights path. ``check_data_dir``: the synthetic set of
    :data:`SELF_CHECK`, on which the self-check's MPJPE is measured and recorded."""
    model = load_model(checkpoint)
    self_check = {}
    if check_data_dir is not None:
        self_check = {**SELF_CHECK, "mpjpe_mm": round(self_check_mpjpe(model, check_data_dir), 3)}
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = save_checkpoint(out_dir / WEIGHTS_FILE, model, recipe=RECIPE.name, starpose_version=__version__,
                           dataset=RECIPE.data["dataset"])
    manifest = {"recipe": RECIPE.name, "preset": RECIPE.train["preset"], "starpose_version": __version__,
                "sha256": file_sha256(path), "bytes": path.stat().st_size, "dtype": "float32",
                "config": config_dict(model), "training": {**RECIPE.train, "data": RECIPE.data},
                "numbers": numbers or {}, "self_check": self_check}
    atomic_write_text(out_dir / MANIFEST_FILE, json.dumps(manifest, indent=2) + "\n")
    return path


def package_checked(checkpoint: str | os.PathLike, out_dir: str | os.PathLike, numbers: dict | None = None) -> Path:
    """:func:`package` with the self-check measured on a fresh :data:`SELF_CHECK` synthetic set."""
    with tempfile.TemporaryDirectory() as tmp:
        generate_dataset(tmp, preset=SELF_CHECK["synth_preset"], seed=SELF_CHECK["seed"])
        return package(checkpoint, out_dir, numbers=numbers, check_data_dir=tmp)
