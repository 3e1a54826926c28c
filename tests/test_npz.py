"""The safe array-file loader: arrays read without pickles, every failure a DataError naming the file."""
import os

import numpy as np
import pytest

from starpose.data.npz import NPY_KEY, load_array, npz_keys, open_npz
from starpose.errors import DataError


class _Evil:
    def __reduce__(self):
        return (os.system, ("echo pwned",))


def test_npz_and_npy_read_alike(tmp_path):
    a, b = np.arange(6.0).reshape(2, 3), np.ones(4, np.int32)
    np.savez(tmp_path / "two.npz", a=a, b=b)
    np.save(tmp_path / "one.npy", a)
    arrays = open_npz(tmp_path / "two.npz")
    assert sorted(arrays) == ["a", "b"] and np.array_equal(arrays["a"], a) and arrays["b"].dtype == np.int32
    assert npz_keys(tmp_path / "two.npz") == ["a", "b"] and npz_keys(tmp_path / "one.npy") == [NPY_KEY]
    assert np.array_equal(open_npz(tmp_path / "one.npy")[NPY_KEY], a)
    assert np.array_equal(load_array(tmp_path / "two.npz", "b"), b)
    assert np.array_equal(load_array(tmp_path / "one.npy", "anything"), a)


def test_load_array_takes_the_only_array_or_the_named_one(tmp_path):
    np.savez(tmp_path / "single.npz", whatever=np.zeros(3))
    assert load_array(tmp_path / "single.npz", "keypoints").shape == (3,)
    np.savez(tmp_path / "two.npz", x=np.zeros(3), y=np.ones(2))
    with pytest.raises(DataError, match=r"two.npz: expected a single array or a 'keypoints' array"):
        load_array(tmp_path / "two.npz", "keypoints")


def test_load_array_reads_only_the_chosen_array(tmp_path):
    path = tmp_path / "mixed.npz"
    np.savez(path, keypoints=np.zeros((2, 17, 2)), extra=np.array([_Evil()], dtype=object))
    assert load_array(path, "keypoints").shape == (2, 17, 2)
    with pytest.raises(DataError, match=r"mixed.npz: array 'extra' holds pickled objects, refused"):
        open_npz(path)


@pytest.mark.parametrize(
    "name, write, message",
    [
        ("missing.npz", None, "missing.npz: no such file"),
        ("text.npz", lambda p: p.write_text("hello"), "text.npz: not a readable numpy file"),
        ("cut.npy", lambda p: p.write_bytes(b"\x93NUMPY\x01\x00"), "cut.npy: not a readable numpy file"),
        ("obj.npy", lambda p: np.save(p, np.array([_Evil()], dtype=object), allow_pickle=True),
         "obj.npy: not a readable numpy file"),
        ("obj.npz", lambda p: np.savez(p, a=np.array([_Evil()], dtype=object)),
         "obj.npz: array 'a' holds pickled objects, refused"),
    ],
)
def test_failures_are_data_errors_naming_the_file(tmp_path, name, write, message):
    path = tmp_path / name
    if write is not None:
        write(path)
    for reader in (open_npz, npz_keys, lambda p: load_array(p, "a")):
        if reader is npz_keys and name == "obj.npz":
            continue  # listing the names reads no array
        with pytest.raises(DataError, match=message):
            reader(path)
