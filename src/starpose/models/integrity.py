"""Checkpoint integrity: a SHA-256 over the payload, stored in the checkpoint beside it.

The digest covers the structure and content of everything in the checkpoint dict except the
``checksum`` entry itself: dict keys (in sorted order), strings, numbers, ``None``, lists and
tuples, and every tensor's dtype, shape and bytes. A truncated file fails to unpickle; a flipped
bit in a tensor or in a stored number changes the digest. Files without a ``checksum`` entry
(published checkpoints, starpose checkpoints written before it existed) are accepted unverified.
"""
from __future__ import annotations

import hashlib
import struct

import numpy as np
import torch

CHECKSUM_KEY = "checksum"


def payload_checksum(payload: dict) -> str:
    """``"sha256:<hex>"`` of ``payload`` without its ``checksum`` entry."""
    digest = hashlib.sha256()
    _feed(digest, {k: v for k, v in payload.items() if k != CHECKSUM_KEY})
    return "sha256:" + digest.hexdigest()


def with_checksum(payload: dict) -> dict:
    """``payload`` plus its ``checksum`` entry."""
    return {**payload, CHECKSUM_KEY: payload_checksum(payload)}


def checksum_problem(data: dict) -> str | None:
    """None when ``data`` carries no checksum or a matching one, else what is wrong."""
    stored = data.get(CHECKSUM_KEY)
    if stored is None:
        return None
    if not isinstance(stored, str):
        return "its checksum entry is malformed"
    if payload_checksum(data) != stored:
        return "the checksum does not match the content (the file is corrupt)"
    return None


def _feed(digest, value) -> None:
    """Hash ``value`` with a type tag, so that e.g. ``[1]`` and ``"1"`` differ."""
    if isinstance(value, torch.Tensor):
        flat = value.detach().cpu().contiguous().reshape(-1)
        digest.update(f"T{flat.dtype}{tuple(value.shape)}".encode())
        digest.update(memoryview(flat.view(torch.uint8).numpy()))
    elif isinstance(value, np.ndarray):
        digest.update(f"N{value.dtype.str}{value.shape}".encode())
        digest.update(np.ascontiguousarray(value).tobytes())
    elif isinstance(value, dict):
        digest.update(f"D{len(value)}".encode())
        for key in sorted(value, key=repr):
            _feed(digest, key)
            _feed(digest, value[key])
    elif isinstance(value, (list, tuple)):
        digest.update(f"L{len(value)}".encode())
        for item in value:
            _feed(digest, item)
    elif isinstance(value, float):
        digest.update(b"F" + struct.pack("<d", value))
    elif isinstance(value, (bool, int, str, type(None))):
        digest.update(f"{type(value).__name__}:{value!r};".encode())
    else:  # e.g. a RandomState, whose repr holds an address: only its type is stable
        digest.update(f"O{type(value).__name__};".encode())
