"""Safe reading and atomic writing of ``.npz`` files whose entries are pickled dicts.

The published Human3.6M files (``data_3d_h36m.npz``, ``data_2d_h36m_*.npz``) store nested dicts
as 0-d object arrays, i.e. as pickles. ``np.load(allow_pickle=True)`` runs the stock unpickler,
which executes whatever a crafted file asks for. Here the archive is read member by member and
object payloads go through :class:`RestrictedUnpickler`, which can only rebuild numpy arrays,
numpy scalars and plain Python containers.
"""
from __future__ import annotations

import _codecs
import io
import os
import pickle
import pickletools
import zipfile
from pathlib import Path

import numpy as np
import numpy.lib.format as npformat

from starpose.errors import DataError
from starpose.data.npz import check_declared_size
from starpose.io import atomic_path

_multiarray = np._core.multiarray if hasattr(np, "_core") else np.core.multiarray

# (module, name) -> object. Both spellings of numpy's private module are accepted because files
# pickled by numpy 1.x say ``numpy.core`` and files pickled by numpy 2.x say ``numpy._core``.
_ALLOWED_GLOBALS = {
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
    ("numpy.core.multiarray", "_reconstruct"): _multiarray._reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): _multiarray._reconstruct,
    ("numpy.core.multiarray", "scalar"): _multiarray.scalar,
    ("numpy._core.multiarray", "scalar"): _multiarray.scalar,
    # Protocol-2 pickles encode raw bytes as ``_codecs.encode(str, 'latin1')``.
    ("_codecs", "encode"): _codecs.encode,
    # Plain-data constructors that protocols < 4 reach through globals.
    ("builtins", "set"): set,
    ("builtins", "frozenset"): frozenset,
    ("builtins", "complex"): complex,
}


class RestrictedUnpickler(pickle.Unpickler):
    """An unpickler that resolves only the globals needed for numpy arrays and containers.

    Dicts, lists, tuples, strings and numbers need no globals at all; anything else (``os.system``,
    ``builtins.eval``, ``subprocess.Popen``, ...) raises :class:`pickle.UnpicklingError`.
    """

    def find_class(self, module: str, name: str):
        try:
            return _ALLOWED_GLOBALS[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(f"forbidden global '{module}.{name}'") from None


def _read_header(fp, path: Path, member: str):
    """Parse a ``.npy`` header; returns (shape, fortran_order, dtype)."""
    version = npformat.read_magic(fp)
    if version == (1, 0):
        return npformat.read_array_header_1_0(fp)
    if version == (2, 0):
        return npformat.read_array_header_2_0(fp)
    if version == (3, 0) and hasattr(npformat, "_read_array_header"):
        return npformat._read_array_header(fp, version)
    raise DataError(f"{path}: entry '{member}' has unsupported .npy format version {version}")


def _check_declared_lengths(payload: bytes, path: Path, member: str) -> None:
    """Walk the pickle's opcodes without building anything: a string or bytes opcode that
    declares more bytes than the payload holds is refused here, because the unpickler would
    allocate the declared size first (gigabytes from a corrupt length field of a few bytes)."""
    try:
        for _ in pickletools.genops(io.BytesIO(payload)):
            pass
    except ValueError as err:
        raise DataError(f"{path}: entry '{member}' is truncated or corrupt ({err})") from None


def _read_member(archive: zipfile.ZipFile, member: str, path: Path):
    with archive.open(member) as fp:
        shape, _, dtype = _read_header(fp, path, member)
        if dtype.hasobject:
            payload = fp.read()
            _check_declared_lengths(payload, path, member)
            value = RestrictedUnpickler(io.BytesIO(payload), encoding="latin1").load()
            if not isinstance(value, np.ndarray):
                raise DataError(f"{path}: entry '{member}' does not hold an array")
            if value.shape != tuple(shape):
                raise DataError(f"{path}: entry '{member}' has a payload that does not match "
                                f"its header shape {tuple(shape)}")
            return value.item() if value.ndim == 0 else value
    # Plain arrays: let numpy parse them again from the start, never allowing pickles.
    with archive.open(member) as fp:
        check_declared_size(fp, archive.getinfo(member).file_size, path, f"array {member!r}")
    with archive.open(member) as fp:
        return npformat.read_array(fp, allow_pickle=False)


def load_npz(path: str | os.PathLike) -> dict[str, object]:
    """Read every entry of an ``.npz`` file without running arbitrary pickles.

    Returns ``{name: value}`` where plain arrays are numpy arrays and 0-d object arrays are
    unwrapped to the object they hold (usually a nested dict).
    Raises :class:`DataError` for a missing, non-npz, truncated or hostile file.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    entries: dict[str, object] = {}
    try:
        with zipfile.ZipFile(path) as archive:
            for member in archive.namelist():
                name = member[:-4] if member.endswith(".npy") else member
                entries[name] = _read_member(archive, member, path)
    except DataError:
        raise
    except zipfile.BadZipFile as err:
        raise DataError(f"{path}: not a valid .npz (zip) file ({err})") from None
    except pickle.UnpicklingError as err:
        raise DataError(f"{path}: refused to unpickle: {err}") from None
    except MemoryError:
        raise DataError(f"{path}: corrupt .npz file (declares more data than fits in memory)") from None
    except Exception as err:  # noqa: BLE001 - corrupt headers raise SyntaxError, TokenError, zlib.error, ...
        text = (str(err).strip().splitlines() or [""])[0]
        raise DataError(f"{path}: truncated or corrupt .npz file ({type(err).__name__}: {text})") from None
    return entries


def save_npz(path: str | os.PathLike, **entries) -> Path:
    """Write ``entries`` to a compressed ``.npz`` atomically; returns the path.

    Dicts (and any non-array value) are stored as 0-d object arrays, exactly as
    ``np.savez_compressed(path, positions_3d=some_dict)`` does, so the file can be read with the
    published code (``np.load(path, allow_pickle=True)['positions_3d'].item()``). The data go to a
    temporary file in the same directory which then replaces ``path``: readers never see a
    half-written file, and a failure leaves any previous file untouched.
    """
    path = check_writable_file(path)
    with atomic_path(path) as tmp:
        write_npz(tmp, **entries)
    return path


def write_npz(path: str | os.PathLike, **entries) -> None:
    """Write ``entries`` to a compressed ``.npz`` at ``path`` directly (see :func:`save_npz`)."""
    with open(path, "wb") as fp:
        np.savez_compressed(fp, **entries)


def check_writable_file(path: str | os.PathLike) -> Path:
    path = Path(path)
    if path.exists() and not path.is_file():
        raise DataError(f"{path}: exists and is not a regular file")
    return path
