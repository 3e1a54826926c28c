"""The bundled default model: a Star-MixSTE that starpose trained on its own synthetic data.

It ships in ``starpose/weights/`` as two files:

- ``bundled.pt``: a starpose checkpoint (configuration and fp32 weights only, with the payload
  checksum every starpose checkpoint carries, plus the recipe name and the starpose version);
- ``bundled.json``: its manifest: the SHA-256 and size of ``bundled.pt``, the recipe, the
  version, the model configuration, the numbers measured when it was packaged
  (``docs/bundled-model.md``) and a *self-check*: the MPJPE of the model on a fixed tiny
  synthetic set, which the tests recompute.

:data:`starpose.recipes.BUNDLED` is what ``starpose train --recipe bundled`` trains it with, on
``starpose synth --preset small --seed 0`` (noisy 2D keypoints).
The name ``"bundled"`` stands for this model wherever a checkpoint path is taken
(``load_model("bundled")``, ``--checkpoint bundled``); a file of that name is ``./bundled``.
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from starpose.errors import CheckpointError
from starpose.recipes import BUNDLED as RECIPE

BUNDLED = "bundled"
WEIGHTS_DIR = Path(__file__).resolve().parent.parent / "weights"
WEIGHTS_FILE = "bundled.pt"
MANIFEST_FILE = "bundled.json"


def is_bundled(path: str | os.PathLike) -> bool:
    """Whether a checkpoint argument names the bundled model."""
    return str(path) == BUNDLED


def weights_path() -> Path:
    return WEIGHTS_DIR / WEIGHTS_FILE


def read_manifest() -> dict:
    """The manifest of the bundled weights; CheckpointError when the installation lacks it."""
    path = WEIGHTS_DIR / MANIFEST_FILE
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as err:
        raise CheckpointError(f"{path}: the bundled model's manifest is missing or unreadable ({err}); "
                              "reinstall starpose") from None


def file_sha256(path: str | os.PathLike) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return "sha256:" + digest.hexdigest()


def verified_weights() -> Path:
    """The path of ``bundled.pt`` after checking it against the manifest's checksum."""
    manifest, path = read_manifest(), weights_path()
    if not path.is_file():
        raise CheckpointError(f"{path}: the bundled model's weights are missing; reinstall starpose")
    if file_sha256(path) != manifest.get("sha256"):
        raise CheckpointError(f"{path}: the bundled weights do not match their checksum "
                              f"({MANIFEST_FILE}); reinstall starpose")
    return path


def describe() -> str:
    """One line naming the bundled model (for ``lift`` and ``info``)."""
    manifest = read_manifest()
    numbers = manifest.get("numbers", {}).get("h36m_published", {})
    p1 = f", {numbers['mpjpe']:.1f} mm protocol #1 on synthetic S9/S11" if "mpjpe" in numbers else ""
    return (f"bundled model: {manifest['preset']} trained by starpose {manifest['starpose_version']} on "
            f"synthetic data (recipe '{manifest['recipe']}'{p1}; docs/bundled-model.md)")


#: What the self-check lifts: camera 0 of subject S9 in ``starpose synth --preset tiny --seed 0``.
SELF_CHECK = dict(synth_preset="tiny", seed=0, subjects=["S9"], keypoints="noisy", camera=0, tolerance_mm=0.5)


def self_check_mpjpe(model, data_dir: str | os.PathLike) -> float:
    """MPJPE (mm, root-relative, every frame once) of ``model`` lifting :data:`SELF_CHECK`'s
    sequences of the synthetic set in ``data_dir`` the way ``starpose lift`` does (overlapping
    windows, flip averaging)."""
    import numpy as np

    from starpose.data.h36m import load_h36m
    from starpose.data.model_input import sequence_input
    from starpose.inference import predict_sequence

    errors = []
    for seq in load_h36m(data_dir, SELF_CHECK["keypoints"], SELF_CHECK["subjects"]):
        if seq.camera_index != SELF_CHECK["camera"]:
            continue
        pred = predict_sequence(model, sequence_input(seq, model.input_norm).keypoints_2d)
        truth = np.array(seq.positions_3d, dtype=np.float32)
        truth[:, 0] = 0.0
        errors.append(np.linalg.norm(pred - truth, axis=-1).reshape(-1))
    return 1000 * float(np.concatenate(errors).mean())


def package(checkpoint: str | os.PathLike, out_dir: str | os.PathLike, numbers: dict | None = None,
            check_data_dir: str | os.PathLike | None = None) -> Path:
    """Write ``bundled.pt`` (weights of ``checkpoint`` without optimiser state) and ``bundled.json``
    into ``out_dir``; returns the weights path. ``check_data_dir``: the synthetic set of
    :data:`SELF_CHECK`, on which the self-check's MPJPE is measured and recorded."""
    from starpose import __version__
    from starpose.io import atomic_write_text
    from starpose.models.checkpoints import config_dict, load_model, save_checkpoint

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


__all__ = ["BUNDLED", "is_bundled", "read_manifest", "verified_weights", "describe",
           "package", "file_sha256", "weights_path"]
