"""Reading plain ``.npy``/``.npz`` array files safely, with one mapping of errors.

Pickles are never allowed (``allow_pickle=False``): a file that holds object arrays is refused.
Every problem becomes a :class:`DataError` naming the file: missing, not a numpy file, an array
that holds pickled objects. A bare ``.npy`` reads as one array named ``arr_0``, the name
``np.savez`` gives an unnamed array, so callers treat both kinds of file alike.

Files whose entries are pickled dicts (the Human3.6M and VideoPose3D layouts) are read by
:mod:`starpose.data.safe_pickle` instead.
"""
from __future__ import annotations

import contextlib
import os
import zipfile
from pathlib import Path
from typing import Iterator

import numpy as np

from starpose.errors import DataError

NPY_KEY = "arr_0"


@contextlib.contextmanager
def _opened(path: Path) -> Iterator[np.ndarray | np.lib.npyio.NpzFile]:
    """``np.load(path)`` without pickles; load errors become :class:`DataError`."""
    try:
        if path.suffix.lower() == ".npy":
            with open(path, "rb") as fh:
                check_declared_size(fh, path.stat().st_size, path, "the array")
        data = np.load(path, allow_pickle=False)
        if not isinstance(data, np.ndarray):
            with _closing_on_error(data):
                check_zip_members(data.zip, path)
    except FileNotFoundError:
        raise DataError(f"{path}: no such file") from None
    except DataError:
        raise
    except MemoryError:
        raise DataError(f"{path}: not a readable numpy file (it declares more data than fits in memory)") from None
    except Exception as err:  # noqa: BLE001 - numpy's header parser raises many kinds on corrupt bytes
        raise DataError(f"{path}: not a readable numpy file ({_one_line(err)})") from None
    if isinstance(data, np.ndarray):
        yield data
        return
    with data:
        yield data


@contextlib.contextmanager
def _closing_on_error(data):
    try:
        yield
    except BaseException:
        data.close()
        raise


#: Deflate expands its input at most about 1032 times; a member that declares more is corrupt.
DEFLATE_MAX_RATIO = 1032


def check_zip_members(archive: zipfile.ZipFile, path: Path) -> None:
    """Refuse a member whose declared sizes the file cannot back, before it is read.

    ``zipfile`` reads a member's declared compressed size in one request, so a flipped bit in
    that field of the zip directory asks for gigabytes (2 GiB for a 4 KB file); and the declared
    uncompressed size is what :func:`check_declared_size` measures an array against. numpy
    writes stored and deflated members only.
    """
    size = path.stat().st_size
    for info in archive.infolist():
        where = f"{path}: member '{info.filename}'"
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise DataError(f"{where} uses compression method {info.compress_type} "
                            f"(numpy files use stored or deflated members)")
        if info.header_offset + info.compress_size > size:
            raise DataError(f"{where} declares {info.compress_size:,} compressed bytes from byte "
                            f"{info.header_offset:,}, past the end of the file ({size:,} bytes)")
        ratio = 1 if info.compress_type == zipfile.ZIP_STORED else DEFLATE_MAX_RATIO
        if info.file_size > ratio * info.compress_size + 64:
            raise DataError(f"{where} declares {info.file_size:,} bytes, more than its "
                            f"{info.compress_size:,} stored bytes can hold")


def check_declared_size(fh, available: int, path: Path, what: str) -> None:
    """Refuse a header that declares more bytes than the file holds, before numpy allocates them."""
    version = np.lib.format.read_magic(fh)
    _check_header_length(fh, version, available, path, what)
    if version not in ((1, 0), (2, 0)):
        return  # version 3 (UTF-8 field names) is rare: numpy's own checks apply
    read = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
    shape, _, dtype = read(fh, max_header_size=10000)
    if dtype.hasobject:
        return  # refused by allow_pickle=False with its own message
    needed = dtype.itemsize
    for n in shape:
        needed *= int(n)
    if needed > available:
        raise DataError(f"{path}: {what} declares shape {shape} ({needed:,} bytes) but the file holds {available:,} bytes")


def _check_header_length(fh, version, available: int, path: Path, what: str) -> None:
    """Refuse a header-length field larger than the file: numpy would allocate that much to read it."""
    start = fh.tell()
    length = int.from_bytes(fh.read(2 if version == (1, 0) else 4), "little")
    fh.seek(start)
    if length > available:
        raise DataError(f"{path}: {what} declares a {length:,}-byte header but the file holds "
                        f"{available:,} bytes")


def _member(data, key: str, path: Path) -> np.ndarray:
    try:
        name = key if key in data.zip.namelist() else f"{key}.npy"
        with data.zip.open(name) as fh:
            check_declared_size(fh, data.zip.getinfo(name).file_size, path, f"array {key!r}")
        return data[key]
    except DataError:
        raise
    except ValueError as err:
        raise DataError(f"{path}: array {key!r} holds pickled objects, refused ({err})") from None
    except MemoryError:
        raise DataError(f"{path}: array {key!r} declares more data than fits in memory") from None
    except Exception as err:  # noqa: BLE001 - corrupt headers raise SyntaxError, TokenError, ...
        raise DataError(f"{path}: array {key!r} is truncated or corrupt ({_one_line(err)})") from None


def _one_line(err: Exception) -> str:
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__


def npz_keys(path: str | os.PathLike) -> list[str]:
    """Names of the arrays in ``path`` without reading them (``[NPY_KEY]`` for a ``.npy``)."""
    path = Path(path)
    with _opened(path) as data:
        return [NPY_KEY] if isinstance(data, np.ndarray) else list(data.files)


def open_npz(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Every array of an ``.npz`` (or the one array of a ``.npy`` as ``{NPY_KEY: array}``)."""
    path = Path(path)
    with _opened(path) as data:
        if isinstance(data, np.ndarray):
            return {NPY_KEY: data}
        return {key: _member(data, key, path) for key in data.files}


def load_array(path: str | os.PathLike, key: str) -> np.ndarray:
    """The array ``key`` of ``path``, or its only array when it holds just one.

    Only the chosen array is read. Raises :class:`DataError` when there are several arrays and
    none is called ``key``.
    """
    path = Path(path)
    with _opened(path) as data:
        if isinstance(data, np.ndarray):
            return data
        keys = list(data.files)
        chosen = key if key in keys else (keys[0] if len(keys) == 1 else None)
        if chosen is None:
            raise DataError(f"{path}: expected a single array or a {key!r} array, found keys {keys}")
        return _member(data, chosen, path)
