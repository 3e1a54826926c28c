"""The bundled default model: a Star-MixSTE that starpose trained on its own synthetic data.

It ships in ``starpose/weights/`` as two files:

- ``bundled.pt``: a starpose checkpoint (configuration and fp32 weights only, with the payload
  checksum every starpose checkpoint carries, plus the recipe name and the starpose version);
- ``bundled.json``: its manifest: the SHA-256 and size of ``bundled.pt``, the recipe, the
  version, the model configuration, the numbers measured when it was packaged
  (``docs/bundled-model.md``) and a *self-check*: the MPJPE of the model on a fixed tiny
  synthetic set, which the tests recompute.

:data:`starpose.train.recipes.BUNDLED` is what ``starpose train --recipe bundled`` trains it with
(from the first bundled model's weights, recipe ``bundled-v1``), on ``starpose synth --preset small
--seed 0 --cameras varied`` (noisy 2D keypoints, ``view`` input: camera rays turned to the person); :mod:`starpose.train.bundle`
packages a trained checkpoint as these two files.
The name ``"bundled"`` stands for this model wherever a checkpoint path is taken
(``load_model("bundled")``, ``--checkpoint bundled``); a file of that name is ``./bundled``.
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from starpose.errors import CheckpointError

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


__all__ = ["BUNDLED", "is_bundled", "read_manifest", "verified_weights", "describe",
           "file_sha256", "weights_path", "WEIGHTS_FILE", "MANIFEST_FILE"]
