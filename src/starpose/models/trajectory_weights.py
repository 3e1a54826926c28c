"""Trajectory-model weights on disk: an ``.npz`` of the parameters and a JSON manifest.

The weights are plain arrays (``np.load`` without pickles); the manifest
(``<name>.json`` beside ``<name>.npz``) holds their SHA-256 and size, the network's
configuration, how it was trained and what it measured. The bundled model is
``starpose/weights/trajectory.npz`` with ``trajectory.json``; :func:`bundled_trajectory_model`
returns None when an installation lacks it (lifting then uses the geometric estimate).
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import torch

from starpose.errors import CheckpointError
from starpose.models.trajectory import TrajectoryConfig, TrajectoryNet

WEIGHTS_DIR = Path(__file__).resolve().parent.parent / "weights"
BUNDLED_NAME = "trajectory"


def _sha256(path: Path) -> str:
    return "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()


def save_trajectory_model(model: TrajectoryNet, weights: Path, manifest: dict) -> dict:
    """Write ``weights`` (``.npz``) and its manifest (``.json`` beside it); returns the manifest
    (``manifest`` plus ``config``, ``sha256`` and ``bytes``). The caller stages the paths."""
    arrays = {k: v.detach().cpu().numpy() for k, v in model.state_dict().items()}
    with open(weights, "wb") as fh:
        np.savez(fh, **arrays)
    full = {**manifest, "config": model.config.to_dict(), "sha256": _sha256(weights),
            "bytes": weights.stat().st_size}
    return full


def load_trajectory_model(weights) -> TrajectoryNet:
    """The network stored in ``weights`` (``.npz``) after checking it against its manifest."""
    weights = Path(weights)
    manifest_path = weights.with_suffix(".json")
    try:
        manifest = json.loads(manifest_path.read_text())
        config = TrajectoryConfig(**manifest["config"])
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise CheckpointError(f"{manifest_path}: missing or malformed trajectory manifest "
                              f"({err})") from None
    if not weights.is_file() or _sha256(weights) != manifest.get("sha256"):
        raise CheckpointError(f"{weights}: missing, or does not match the checksum of "
                              f"{manifest_path.name}")
    model = TrajectoryNet(config)
    with np.load(weights, allow_pickle=False) as data:
        state = {k: torch.from_numpy(data[k]) for k in data.files}
    try:
        model.load_state_dict(state)
    except RuntimeError as err:
        raise CheckpointError(f"{weights}: the weights do not fit the configuration "
                              f"({str(err).splitlines()[0]})") from None
    return model.eval()


def bundled_trajectory_path() -> Path | None:
    """The bundled trajectory weights, or None when this installation has none."""
    path = WEIGHTS_DIR / f"{BUNDLED_NAME}.npz"
    return path if path.is_file() else None


def bundled_trajectory_model() -> TrajectoryNet | None:
    path = bundled_trajectory_path()
    return None if path is None else load_trajectory_model(path)
