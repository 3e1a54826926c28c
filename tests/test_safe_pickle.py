"""Safe npz loading: round trips, numpy compatibility, hostile and broken files."""
import io
import os
import pickle
import struct
import subprocess
import sys
import tracemalloc
import zipfile

import numpy as np
import numpy.lib.format as npformat
import pytest

from starpose.data.safe_pickle import load_npz, save_npz

_reconstruct = (np._core if hasattr(np, "_core") else np.core).multiarray._reconstruct
SRC = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "src")
from starpose.errors import DataError


def _nested():
    return {"S1": {"Walking": np.arange(24, dtype=np.float32).reshape(2, 4, 3),
                   "Eating 1": [np.ones((3, 17, 2), np.float32), np.zeros((3, 17, 2))]},
            "meta": {"num_joints": 17, "layout_name": "h36m", "sym": [[1, 2], [3, 4]],
                     "scalar": np.float32(2.5), "tuple": (1, "a")},
            "kinds": {"big_endian": np.arange(3, dtype=">f8"), "text": np.array(["ab", "cde"]),
                      "flags": np.array([True, False]), "names": np.array(["a", None], dtype=object),
                      "empty": np.zeros((0, 17, 3)), "complex": 1 + 2j, "set": {1, 2}}}


def test_round_trip_and_published_reader(tmp_path):
    path = save_npz(tmp_path / "data.npz", positions=_nested(), plain=np.arange(5.0))
    loaded = load_npz(path)
    assert set(loaded) == {"positions", "plain"}
    np.testing.assert_array_equal(loaded["plain"], np.arange(5.0))
    walking = loaded["positions"]["S1"]["Walking"]
    assert walking.dtype == np.float32 and walking.shape == (2, 4, 3)
    np.testing.assert_array_equal(walking, _nested()["S1"]["Walking"])
    assert loaded["positions"]["meta"]["sym"] == [[1, 2], [3, 4]]
    assert loaded["positions"]["meta"]["scalar"] == np.float32(2.5)
    kinds = loaded["positions"]["kinds"]
    for key, value in _nested()["kinds"].items():
        if isinstance(value, np.ndarray):
            # numpy's own unpickling gives big-endian data back in native order, as here
            assert kinds[key].dtype.str[1:] == value.dtype.str[1:] and kinds[key].shape == value.shape
            np.testing.assert_array_equal(kinds[key], value)
        else:
            assert kinds[key] == value
    # The published code reads the file with the stock loader.
    with np.load(path, allow_pickle=True) as stock:
        assert stock["positions"].shape == () and stock["positions"].dtype == object
        np.testing.assert_array_equal(stock["positions"].item()["S1"]["Walking"], walking)


def test_reads_files_written_by_numpy(tmp_path):
    path = tmp_path / "numpy.npz"
    np.savez_compressed(path, positions_3d=_nested(), other=np.eye(3, dtype=np.int16))
    loaded = load_npz(path)
    assert loaded["other"].dtype == np.int16
    np.testing.assert_array_equal(loaded["positions_3d"]["S1"]["Eating 1"][0], np.ones((3, 17, 2)))


def _npz_with_object_payload(path, payload: bytes):
    """An npz whose single entry is a 0-d object array with the given pickle payload."""
    header = io.BytesIO()
    npformat.write_array_header_1_0(header, {"descr": "|O", "fortran_order": False, "shape": ()})
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("positions_3d.npy", header.getvalue() + payload)  # header has the magic
    return path


class _Evil:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


class _EvilEval:
    def __reduce__(self):
        return eval, ("__import__('os').getpid()",)


@pytest.mark.parametrize("evil_name", ["system", "eval"])
def test_hostile_pickle_is_refused_and_not_run(tmp_path, evil_name):
    marker = tmp_path / "pwned"
    evil = _Evil(marker) if evil_name == "system" else _EvilEval()
    payload = pickle.dumps(np.array({"S1": evil}, dtype=object), protocol=3)
    path = _npz_with_object_payload(tmp_path / "evil.npz", payload)
    with pytest.raises(DataError) as err:
        load_npz(path)
    message = str(err.value)
    assert "evil.npz" in message and "forbidden global" in message
    assert evil_name in message
    assert not marker.exists()


def test_missing_not_zip_and_truncated(tmp_path):
    with pytest.raises(DataError, match="not found"):
        load_npz(tmp_path / "missing.npz")
    text = tmp_path / "text.npz"
    text.write_text("hello")
    with pytest.raises(DataError, match="text.npz.*not a valid"):
        load_npz(text)
    good = save_npz(tmp_path / "good.npz", positions=_nested())
    data = good.read_bytes()
    for cut in (len(data) // 2, len(data) - 30):
        broken = tmp_path / f"cut{cut}.npz"
        broken.write_bytes(data[:cut])
        with pytest.raises(DataError, match=f"cut{cut}.npz"):
            load_npz(broken)
    # A payload that ends mid-pickle.
    payload = pickle.dumps(np.array(_nested(), dtype=object), protocol=3)
    short = _npz_with_object_payload(tmp_path / "short.npz", payload[:len(payload) // 2])
    with pytest.raises(DataError, match="short.npz"):
        load_npz(short)


def test_save_is_atomic(tmp_path):
    path = save_npz(tmp_path / "keep.npz", positions={"a": np.zeros(3)})
    before = path.read_bytes()
    with pytest.raises(Exception):
        save_npz(path, positions={"a": lambda: None})  # lambdas cannot be pickled
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.npz"]
    with pytest.raises(DataError):
        save_npz(tmp_path, positions={})  # a directory


@pytest.mark.parametrize("protocol", [2, 3, 4])
def test_object_payloads_of_every_protocol_numpy_writes_load(tmp_path, protocol):
    payload = pickle.dumps(np.array(_nested(), dtype=object), protocol=protocol)
    loaded = load_npz(_npz_with_object_payload(tmp_path / "p.npz", payload))["positions_3d"]
    np.testing.assert_array_equal(loaded["S1"]["Walking"], _nested()["S1"]["Walking"])
    assert loaded["kinds"]["text"].tolist() == ["ab", "cde"]


def _compressed_size_flipped(path):
    """Flip bit 31 of the compressed size in the zip directory: the corruption the fuzzer found
    (h36m-3d, case 838), which made a 4 KB file ask for 2 GiB in one read."""
    data = bytearray(path.read_bytes())
    entry = data.rfind(b"PK\x01\x02")  # the central directory entry of the (only) member
    size, = struct.unpack_from("<I", data, entry + 20)
    struct.pack_into("<I", data, entry + 20, size | 1 << 31)
    path.write_bytes(bytes(data))


def _peak_of(call):
    """Python and numpy bytes allocated at most while ``call()`` runs."""
    tracemalloc.start()
    try:
        call()
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return peak


def test_a_zip_member_declaring_more_bytes_than_the_file_is_refused_before_reading(tmp_path):
    path = save_npz(tmp_path / "data_3d_h36m.npz", positions_3d=_nested())
    _compressed_size_flipped(path)
    errors = []
    peak = _peak_of(lambda: errors.append(pytest.raises(DataError, load_npz, path)))
    message = str(errors[0].value)
    assert "data_3d_h36m.npz" in message and "2,147,48" in message and "past the end of the file" in message
    assert peak < 16 * 2**20


def test_a_plain_npz_member_declaring_a_huge_uncompressed_size_is_refused(tmp_path):
    from starpose.data.npz import open_npz

    path = tmp_path / "plain.npz"
    np.savez_compressed(path, keypoints=np.zeros((50, 17, 2), np.float32))
    data = bytearray(path.read_bytes())
    entry = data.rfind(b"PK\x01\x02")
    struct.pack_into("<I", data, entry + 24, 2**31)  # the uncompressed size
    path.write_bytes(bytes(data))
    with pytest.raises(DataError, match="plain.npz: member 'keypoints.npy' declares 2,147,483,648 bytes"):
        open_npz(path)


class _Reduce:
    """Pickles as the given ``__reduce__`` tuple: crafted payloads without writing opcodes."""

    def __init__(self, *reduce):
        self.reduce = reduce

    def __reduce__(self):
        return self.reduce


def _dtype(spec, state):
    return _Reduce(np.dtype, (spec, False, True), state)


HOSTILE = {
    # numpy allocates the shape given to _reconstruct (numpy's own pickles pass (0,)).
    "huge reconstruct": (_Reduce(_reconstruct, (np.ndarray, (2**28,), b"b")), "declares 268,435,456 bytes"),
    # ndarray(shape, dtype) called directly allocates the shape.
    "ndarray called": (_Reduce(np.ndarray, ((2**28,), "b")), "may only be rebuilt"),
    # A dtype state with a huge item size, then one element of it.
    "huge itemsize": (_Reduce(_reconstruct, (np.ndarray, (0,), b"b"),
                              (1, (1,), _dtype("V8", (3, "|", None, None, None, 2**30, 1, 0)), False, b"x" * 8)),
                      "item size beyond the payload"),
    "structured dtype": (_dtype("V8", (3, "|", None, ("a",), {"a": (np.dtype("O"), 0)}, 8, 1, 63)),
                         "only plain dtypes"),
    "short bytes": (_Reduce(_reconstruct, (np.ndarray, (0,), b"b"), (1, (4,), np.dtype("f8"), False, b"x" * 8)),
                    "comes with 8 data bytes"),
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_pickled_shapes_and_dtype_states_are_checked_before_numpy_allocates(tmp_path, case):
    value, reason = HOSTILE[case]
    path = _npz_with_object_payload(tmp_path / "crafted.npz", pickle.dumps(value, protocol=3))
    errors = []
    peak = _peak_of(lambda: errors.append(pytest.raises(DataError, load_npz, path)))
    message = str(errors[0].value)
    assert "crafted.npz" in message and reason in message and "\n" not in message
    assert peak < 16 * 2**20


def test_a_huge_memo_index_allocates_nothing(tmp_path):
    """The C unpickler sizes its memo table from the index: this 9-byte pickle took 2 GiB."""
    payload = b"\x80\x02N" + b"r" + struct.pack("<I", 2**31 - 1) + b"."
    path = _npz_with_object_payload(tmp_path / "memo.npz", payload)
    peak = _peak_of(lambda: pytest.raises(DataError, load_npz, path))
    assert peak < 16 * 2**20


def test_an_object_array_with_fewer_elements_than_its_shape_is_refused(tmp_path):
    """numpy reads past the end of a short element list (a crash, or stray objects); run in a
    subprocess so that a regression fails this test rather than the whole session."""
    state = (1, (100,), np.dtype("O"), False, [1])
    path = _npz_with_object_payload(tmp_path / "short.npz",
                                    pickle.dumps(_Reduce(_reconstruct, (np.ndarray, (0,), b"b"), state), protocol=3))
    code = ("import sys; from starpose.data.safe_pickle import load_npz\n"
            "try:\n    load_npz(sys.argv[1])\nexcept Exception as err:\n    print(type(err).__name__, err)")
    run = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": SRC}, timeout=60)
    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith("DataError") and "shape (100,) comes with 1 elements" in run.stdout


def test_a_protocol_4_frame_longer_than_the_payload_is_refused(tmp_path):
    """Bytes cut from the middle of a framed pickle can leave valid opcodes (fuzz case h36m-2d
    103); the frame length still says so, as the C unpickler noticed."""
    payload = pickle.dumps(np.array({"sym": [[4, 5, 6], [1, 2, 3]]}, dtype=object), protocol=4)
    cut = payload.replace(b"K\x02K\x03", b"", 1)
    assert pickle._Unpickler(io.BytesIO(cut)).load().item() == {"sym": [[4, 5, 6], [1]]}  # a silent loss
    with pytest.raises(DataError, match=r"cut.npz: entry 'positions_3d.npy' is truncated or corrupt \(a frame of"):
        load_npz(_npz_with_object_payload(tmp_path / "cut.npz", cut))
