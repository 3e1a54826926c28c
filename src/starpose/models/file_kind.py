"""What a file that is not a PyTorch checkpoint is, from its first bytes: :func:`describe_file`.

``torch.load`` reports another kind of file by an unpickler detail ("Unsupported operand 8",
"invalid load key"); a user given that line does not learn which file they passed. A few magic
numbers name the usual mix-ups: an ONNX export, a text or JSON file, a NumPy array, a zip archive
without PyTorch's ``data.pkl``, HDF5 (Keras), safetensors.
"""
from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path

#: Protobuf tags that follow ONNX's ``ir_version`` (field 1) in a ModelProto: producer_name (2),
#: producer_version (3), graph (7), opset_import (8).
_ONNX_SECOND_TAGS = (0x12, 0x1A, 0x3A, 0x42)


def is_onnx(path: str | os.PathLike, head: bytes | None = None) -> bool:
    """Whether ``path`` looks like an ONNX model (its extension, or a ModelProto's first fields)."""
    head = _head(path) if head is None else head
    if Path(path).suffix.lower() == ".onnx":
        return True
    return len(head) > 2 and head[0] == 0x08 and head[1] < 0x80 and head[2] in _ONNX_SECOND_TAGS


def describe_file(path: str | os.PathLike) -> str | None:
    """``"an ONNX model"``, ``"a text file (first line: ...)"``, ...; None when the first bytes
    say nothing (a damaged checkpoint, an unknown format)."""
    head = _head(path)
    if not head:
        return "an empty file"
    if is_onnx(path, head):
        return "an ONNX model"
    if head.startswith(b"\x93NUMPY"):
        return "a NumPy array file (.npy)"
    if head.startswith(b"\x89HDF"):
        return "an HDF5 file (Keras or TensorFlow weights?)"
    if len(head) > 9 and head[8:10] == b'{"':
        return "a safetensors file"
    if head.startswith(b"PK"):
        return _zip_kind(path)
    return _text_kind(head)


def _zip_kind(path) -> str | None:
    """A zip archive without PyTorch's ``data.pkl`` (an ``.npz``, say); None for a checkpoint or
    an archive too damaged to list (``torch.load`` names that)."""
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
    except Exception:  # noqa: BLE001 - any damage: let torch.load report it
        return None
    if any(name.endswith("data.pkl") for name in names):
        return None
    shown = ", ".join(names[:3]) + (", ..." if len(names) > 3 else "")
    return f"a zip archive of {len(names)} file(s) ({shown})"


def _text_kind(head: bytes) -> str | None:
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        return None  # a cut-off multi-byte character at the end is rare; binary is likelier
    if not all(ch.isprintable() or ch in "\t\r\n" for ch in text):
        return None
    stripped = text.lstrip()
    if stripped.startswith(("{", "[")):
        try:
            json.loads(text)
            return "a JSON file"
        except ValueError:
            if len(head) == _HEAD_BYTES:
                return "a JSON or text file"
    line = stripped.splitlines()[0] if stripped else ""
    return f"a text file (first line: {line[:40]!r}{'...' if len(line) > 40 else ''})"


_HEAD_BYTES = 4096


def _head(path: str | os.PathLike) -> bytes:
    try:
        with open(path, "rb") as fh:
            return fh.read(_HEAD_BYTES)
    except OSError:
        return b""
