"""Safe npz loading: round trips, numpy compatibility, hostile and broken files."""
import io
import os
import pickle
import zipfile

import numpy as np
import numpy.lib.format as npformat
import pytest

from starpose.data.safe_pickle import load_npz, save_npz
from starpose.errors import DataError


def _nested():
    return {"S1": {"Walking": np.arange(24, dtype=np.float32).reshape(2, 4, 3),
                   "Eating 1": [np.ones((3, 17, 2), np.float32), np.zeros((3, 17, 2))]},
            "meta": {"num_joints": 17, "layout_name": "h36m", "sym": [[1, 2], [3, 4]],
                     "scalar": np.float32(2.5), "tuple": (1, "a")}}


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
