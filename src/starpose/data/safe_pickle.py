"""Safe reading and atomic writing of ``.npz`` files whose entries are pickled dicts.

The published Human3.6M files (``data_3d_h36m.npz``, ``data_2d_h36m_*.npz``) store nested dicts
as 0-d object arrays, i.e. as pickles. ``np.load(allow_pickle=True)`` runs the stock unpickler,
which executes whatever a crafted file asks for. Here the archive is read member by member and
object payloads go through :class:`RestrictedUnpickler`, which can only rebuild numpy arrays,
numpy scalars and plain Python containers, and lets numpy allocate no more than the payload can
fill. Zip members whose declared sizes the file cannot back are refused before they are read.
"""
from __future__ import annotations

import _codecs
import _compat_pickle
import io
import os
import pickle
import pickletools
import reprlib
import zipfile
from pathlib import Path

import numpy as np
import numpy.lib.format as npformat

from starpose.errors import DataError
from starpose.data.npz import check_declared_size, check_zip_members
from starpose.io import atomic_path

_multiarray = np._core.multiarray if hasattr(np, "_core") else np.core.multiarray


class _ArrayClass:
    """Stands for ``numpy.ndarray`` inside a pickle. numpy's pickles only pass the class to
    ``_reconstruct``; calling it (``ndarray(shape)``) would allocate any shape a file declares."""

    def __call__(self, *args, **kwargs):
        raise pickle.UnpicklingError("numpy.ndarray may only be rebuilt the way numpy pickles it")


_NDARRAY = _ArrayClass()


def _encode(text, encoding="latin1"):
    """Protocol-2 pickles encode raw bytes as ``_codecs.encode(str, 'latin1')``."""
    if encoding not in ("latin1", "latin-1") or not isinstance(text, str):
        raise pickle.UnpicklingError(f"refused _codecs.encode with encoding {_short(encoding)}")
    return _codecs.encode(text, encoding)


def _empty_bytes(*args):
    """Protocol-2 pickles write ``b''`` as ``bytes()``; ``bytes(n)`` would allocate n bytes."""
    if args:
        raise pickle.UnpicklingError("refused bytes() with arguments")
    return b""


# (module, name) -> object. Both spellings of numpy's private module are accepted because files
# pickled by numpy 1.x say ``numpy.core`` and files pickled by numpy 2.x say ``numpy._core``.
_ALLOWED_GLOBALS = {
    ("numpy", "ndarray"): _NDARRAY,
    ("numpy.core.multiarray", "scalar"): _multiarray.scalar,
    ("numpy._core.multiarray", "scalar"): _multiarray.scalar,
    ("_codecs", "encode"): _encode,
    ("builtins", "bytes"): _empty_bytes,
    # Plain-data constructors that protocols < 4 reach through globals.
    ("builtins", "set"): set,
    ("builtins", "frozenset"): frozenset,
    ("builtins", "complex"): complex,
}
# (module, name) -> the unpickler's method that replaces it (its checks need the payload's size).
_CHECKED_GLOBALS = {
    ("numpy", "dtype"): "make_dtype",
    ("numpy.core.multiarray", "_reconstruct"): "reconstruct",
    ("numpy._core.multiarray", "_reconstruct"): "reconstruct",
}


class RestrictedUnpickler(pickle._Unpickler):
    """An unpickler that resolves only the globals needed for numpy arrays and containers, and
    lets numpy allocate no more than the payload can fill.

    Dicts, lists, tuples, strings and numbers need no globals at all; anything else (``os.system``,
    ``builtins.eval``, ``subprocess.Popen``, ...) raises :class:`pickle.UnpicklingError`. Array
    shapes and dtype states are checked before numpy sees them (:func:`check_array_state`,
    :func:`check_dtype_state`): an array may hold no more bytes than ``budget`` (the payload's
    size), and an object array's element list must match its shape (numpy reads past the end of
    a short list). The pure-Python unpickler is the base because the C one sizes its memo table
    from an index in the file (a 9-byte pickle made it allocate 2 GiB) and has no hook on ``BUILD``.
    """

    dispatch = dict(pickle._Unpickler.dispatch)

    def __init__(self, file, *, budget: int, **kwargs):
        super().__init__(file, **kwargs)
        self.budget = budget

    def find_class(self, module: str, name: str):
        if self.proto < 3 and self.fix_imports:  # Python 2 names: ``__builtin__.set``, ...
            module, name = _compat_pickle.NAME_MAPPING.get((module, name), (module, name))
            module = _compat_pickle.IMPORT_MAPPING.get(module, module)
        if (module, name) in _CHECKED_GLOBALS:
            return getattr(self, _CHECKED_GLOBALS[(module, name)])
        try:
            return _ALLOWED_GLOBALS[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(f"forbidden global '{module}.{name}'") from None

    def make_dtype(self, spec, align=False, copy=False):
        """``numpy.dtype(spec)`` for the string specs numpy pickles ('f4', 'O8', 'U4', ...),
        always a copy: the state that ``BUILD`` sets must never reach numpy's shared dtypes."""
        if not isinstance(spec, str) or len(spec) > 16:
            raise pickle.UnpicklingError(f"refused dtype specification {_short(spec)}")
        dtype = np.dtype(spec, bool(align), True)
        if dtype.names is not None or dtype.subdtype is not None:
            raise pickle.UnpicklingError(f"refused dtype {_short(spec)} (only plain dtypes are read)")
        _check_itemsize(dtype, self.budget)
        return dtype

    def reconstruct(self, cls, shape, dtype):
        """numpy's ``_reconstruct(ndarray, shape, dtype)``; ``BUILD`` then sets the real state."""
        if cls is not _NDARRAY:
            raise pickle.UnpicklingError("numpy _reconstruct of something other than an ndarray")
        if not isinstance(dtype, (bytes, str)) or len(dtype) > 16:
            raise pickle.UnpicklingError(f"refused dtype specification {_short(dtype)}")
        dtype = np.dtype(dtype)
        _check_size(_count(shape), dtype, self.budget)
        return _multiarray._reconstruct(np.ndarray, shape, dtype)

    def load_build(self):
        """``BUILD``: only arrays and dtypes have a state to set, checked first."""
        state = self.stack.pop()
        inst = self.stack[-1]
        if isinstance(inst, np.ndarray):
            check_array_state(state, self.budget)
        elif isinstance(inst, np.dtype):
            check_dtype_state(state, self.budget)
        else:
            raise pickle.UnpicklingError(f"refused to set the state of a {type(inst).__name__}")
        inst.__setstate__(state)
        if isinstance(inst, np.dtype):
            _check_itemsize(inst, self.budget)

    dispatch[pickle.BUILD[0]] = load_build


def check_dtype_state(state, budget: int) -> None:
    """A pickled dtype's ``__setstate__`` argument ``(version, byteorder, subarray, names,
    fields, itemsize, alignment, flags[, metadata])``: plain dtypes only (no sub-arrays, fields
    or metadata, which starpose's files never hold) and an item size the payload could fill."""
    if not isinstance(state, tuple) or len(state) not in (8, 9) or state[0] not in (3, 4):
        raise pickle.UnpicklingError(f"refused dtype state {_short(state)}")
    _, order, subarray, names, fields, itemsize, alignment, flags = state[:8]
    metadata = state[8] if len(state) == 9 else None
    if order not in ("<", ">", "|", "=") or any(x is not None for x in (subarray, names, fields, metadata)):
        raise pickle.UnpicklingError(f"refused dtype state {_short(state)} (only plain dtypes are read)")
    if not all(type(x) is int for x in (itemsize, alignment, flags)) or not -1 <= itemsize <= budget:
        raise pickle.UnpicklingError(f"refused dtype state {_short(state)} (item size beyond the payload)")


def check_array_state(state, budget: int) -> None:
    """A pickled array's ``__setstate__`` argument ``([version,] shape, dtype, fortran, data)``:
    the data bytes (for an object array, the list of elements) must be exactly what the shape
    declares, and no more than the payload holds."""
    if not isinstance(state, tuple) or len(state) not in (4, 5):
        raise pickle.UnpicklingError(f"refused array state {_short(state)}")
    shape, dtype, _, data = state[-4:]
    if not isinstance(dtype, np.dtype):
        raise pickle.UnpicklingError(f"refused array state with dtype {_short(dtype)}")
    count = _count(shape)
    _check_size(count, dtype, budget)
    if dtype.hasobject:
        if dtype.kind != "O" or not isinstance(data, list) or len(data) != count:
            raise pickle.UnpicklingError(f"an object array of shape {shape} comes with "
                                         f"{_length(data, list)} elements")
    elif not isinstance(data, (bytes, bytearray, str)) or len(data) != count * dtype.itemsize:
        raise pickle.UnpicklingError(f"an array of shape {shape} and dtype {dtype} comes with "
                                     f"{_length(data, (bytes, bytearray, str))} data bytes")


def _count(shape) -> int:
    """Number of elements of a pickled shape (a tuple of non-negative ints)."""
    if not isinstance(shape, tuple) or len(shape) > 32 or not all(type(n) is int and n >= 0 for n in shape):
        raise pickle.UnpicklingError(f"refused array shape {_short(shape)}")
    count = 1
    for n in shape:
        count *= n
    return count


def _check_size(count: int, dtype: np.dtype, budget: int) -> None:
    """Refuse an array whose elements could not all come from a payload of ``budget`` bytes
    (an object element takes at least one opcode byte)."""
    needed = count * (1 if dtype.hasobject else dtype.itemsize)
    if needed > budget:
        raise pickle.UnpicklingError(f"an array of {count:,} elements of {dtype} declares "
                                     f"{needed:,} bytes but the payload holds {budget:,}")


def _check_itemsize(dtype: np.dtype, budget: int) -> None:
    if dtype.itemsize > budget:
        raise pickle.UnpicklingError(f"dtype {dtype} declares {dtype.itemsize:,}-byte items "
                                     f"but the payload holds {budget:,} bytes")


def _length(value, kinds) -> str:
    return str(len(value)) if isinstance(value, kinds) else f"no ({type(value).__name__})"


def _short(value) -> str:
    return _REPR.repr(value)


_REPR = reprlib.Repr()
_REPR.maxstring = _REPR.maxother = 60


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
    declares more bytes than the payload holds is refused here, before the unpickler reads it;
    so is a frame (protocol 4) longer than the rest of the payload, which the pure-Python
    unpickler would accept when the bytes it lacks were cut from the middle."""
    try:
        for opcode, arg, pos in pickletools.genops(io.BytesIO(payload)):
            if opcode.name == "FRAME" and pos + 9 + arg > len(payload):
                raise ValueError(f"a frame of {arg:,} bytes at byte {pos} runs past the end")
    except ValueError as err:
        raise DataError(f"{path}: entry '{member}' is truncated or corrupt ({err})") from None


def _read_member(archive: zipfile.ZipFile, member: str, path: Path):
    with archive.open(member) as fp:
        shape, _, dtype = _read_header(fp, path, member)
        if dtype.hasobject:
            payload = fp.read()
            _check_declared_lengths(payload, path, member)
            value = RestrictedUnpickler(io.BytesIO(payload), budget=len(payload), encoding="latin1").load()
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
            check_zip_members(archive, path)
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
