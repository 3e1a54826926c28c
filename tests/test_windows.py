"""Training windows (chunking, padding, flipping, shuffling, sharding) and evaluation windows."""
import numpy as np
import pytest
import torch

from starpose.bench.windows import benchmark_batch_assembly
from starpose.data.flip import flip_pose
from starpose.data.windows import (TrainWindows, eval_window_starts,
                                   eval_windows, reassemble, train_window_starts)


def _frame_coded(length, channels, tag=0.0):
    """A sequence whose every value is its frame index (+ tag to tell sequences apart)."""
    return np.broadcast_to((np.arange(length) + tag)[:, None, None], (length, 17, channels)).copy()


def _frames_of(window):
    return window[:, 0, 1].astype(int).tolist()  # channel 1 is not negated by flipping


@pytest.mark.parametrize("length, frames, expected", [
    (10, 4, [[0, 0, 1, 2], [3, 4, 5, 6], [7, 8, 9, 9]]),   # offset 1, padded both ends
    (8, 4, [[0, 1, 2, 3], [4, 5, 6, 7]]),                   # a multiple of F: no padding
    (3, 5, [[0, 0, 1, 2, 2]]),                               # T < F: one centred window
    (6, 5, [[0, 0, 0, 1, 2], [3, 4, 5, 5, 5]]),              # T = F + 1: offset 2
])
def test_training_windows_exact_frames(length, frames, expected):
    data = TrainWindows([_frame_coded(length, 2)], [_frame_coded(length, 3)], frames,
                        flip_augment=False)
    assert len(data) == data.num_windows == len(expected)
    assert [_frames_of(data.item(i)[0]) for i in range(len(data))] == expected
    assert [_frames_of(data.item(i)[1]) for i in range(len(data))] == expected
    starts = train_window_starts(length, frames)
    assert [row[0] for row in expected] == np.maximum(starts, 0).tolist()


@pytest.mark.parametrize("length, frames, starts", [
    (10, 4, [-1, 3, 7]), (8, 4, [0, 4]), (3, 5, [-1]), (11, 4, [0, 4, 8]), (1, 1, [0]),
])
def test_train_window_starts_centre_the_windows(length, frames, starts):
    assert train_window_starts(length, frames).tolist() == starts
    data = TrainWindows([_frame_coded(length, 2)], [_frame_coded(length, 3)], frames, flip_augment=False)
    np.testing.assert_array_equal(data.window_start, starts)


def test_flip_augmentation_doubles_and_mirrors():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(30, 17, 2)), rng.normal(size=(30, 17, 3))
    data = TrainWindows([x], [y], 9, flip_augment=True)
    assert data.num_windows == 4 and len(data) == 8
    for i in range(4):
        xi, yi = data.item(i)
        xf, yf = data.item(i + 4)
        np.testing.assert_allclose(xf, flip_pose(xi), rtol=1e-6)
        np.testing.assert_allclose(yf, flip_pose(yi), rtol=1e-6)
        assert xi.dtype == np.float32 and yi.dtype == np.float32


def _items_of_epoch(data, **kwargs):
    """Identify each window of an epoch by (sequence tag, first frame, flipped)."""
    seen = []
    for x, _ in data.epoch_batches(**kwargs):
        x = np.asarray(x)
        for w in x:
            seen.append((int(w[0, 0, 1]) // 1000, int(w[0, 0, 1]) % 1000,
                         bool(w[0, 1, 0] < 0)))
    return seen


def _tagged_dataset(flip=True, seed=0):
    lengths = [50, 23, 81]
    xs = []
    for i, n in enumerate(lengths):
        x = _frame_coded(n, 2, tag=1000 * i)
        x[:, :, 0] = np.arange(17)  # distinct per joint, so a swap of sides is visible
        xs.append(x)
    ys = [_frame_coded(n, 3, tag=1000 * i) for i, n in enumerate(lengths)]
    return TrainWindows(xs, ys, 10, flip_augment=flip, seed=seed)


def test_epoch_covers_every_item_once_and_is_shuffled():
    data = _tagged_dataset()
    assert data.num_windows == 5 + 3 + 9 and len(data) == 34
    seen = _items_of_epoch(data, batch_size=8)
    assert len(seen) == 34 and len(set(seen)) == 34
    assert sum(flipped for *_, flipped in seen) == 17
    assert seen != sorted(seen)
    assert data.num_batches(8) == 5


def test_shuffling_is_seeded_and_resumable():
    a, b = _tagged_dataset(seed=3), _tagged_dataset(seed=3)
    assert _items_of_epoch(a, batch_size=4) == _items_of_epoch(b, batch_size=4)
    state = a.state_dict()
    first = _items_of_epoch(a, batch_size=4)
    second = _items_of_epoch(a, batch_size=4)
    assert first != second  # a new permutation every epoch
    a.load_state_dict(state)
    assert _items_of_epoch(a, batch_size=4) == first
    a.load_state_dict(state)
    assert _items_of_epoch(a, batch_size=4, start_batch=3) == first[12:]
    assert _items_of_epoch(_tagged_dataset(seed=4), batch_size=4) != _items_of_epoch(
        _tagged_dataset(seed=3), batch_size=4)


def test_sharding_gives_disjoint_equal_shares():
    shares = [_items_of_epoch(_tagged_dataset(seed=1), batch_size=4, rank=r, world_size=3)
              for r in range(3)]
    assert [len(s) for s in shares] == [12, 12, 12]  # 34 items padded to 36
    union = set().union(*map(set, shares))
    assert len(union) == 34
    assert sum(len(set(s)) for s in shares) == 36  # only the 2 wrap-around items repeat
    assert _tagged_dataset().num_batches(4, world_size=3) == 3
    batches = list(_tagged_dataset().epoch_batches(4, rank=0, world_size=3, drop_last=True))
    assert len(batches) == 3 and all(len(x) == 4 for x, _ in batches)


def test_torch_batches_and_zero_root():
    x = np.random.default_rng(0).normal(size=(40, 17, 2))
    y = np.random.default_rng(1).normal(size=(40, 17, 3)) + 5
    data = TrainWindows([x], [y], 16, zero_root=True)
    xb, yb = next(data.epoch_batches(4, as_torch=True))
    assert isinstance(xb, torch.Tensor) and xb.dtype == torch.float32
    assert xb.shape == (4, 16, 17, 2) and yb.shape == (4, 16, 17, 3)
    assert torch.all(yb[:, :, 0] == 0) and torch.all(yb[:, :, 1:] != 0)


def test_bad_training_inputs():
    with pytest.raises(ValueError):
        TrainWindows([np.zeros((5, 17, 2))], [np.zeros((6, 17, 3))], 4)
    with pytest.raises(ValueError):
        TrainWindows([], [], 4)


@pytest.mark.parametrize("length, frames, starts", [
    (10, 4, [0, 4, 6]), (8, 4, [0, 4]), (3, 5, [0]), (6, 5, [0, 1]), (5, 5, [0]), (1, 3, [0]),
])
def test_eval_windows_exact_frames(length, frames, starts):
    seq = _frame_coded(length, 3)
    windows = eval_windows(seq, frames)
    assert eval_window_starts(length, frames).tolist() == starts
    assert windows.shape == (len(starts), frames, 17, 3)
    for w, s in zip(windows, starts):
        assert _frames_of(w) == [min(s + i, length - 1) for i in range(frames)]
    np.testing.assert_array_equal(reassemble(windows, length), seq)
    t = eval_windows(torch.from_numpy(seq), frames)
    assert isinstance(t, torch.Tensor)
    np.testing.assert_array_equal(reassemble(t, length).numpy(), seq)


def test_reassemble_takes_each_frame_once():
    rng = np.random.default_rng(0)
    for length in rng.integers(1, 200, 20):
        seq = rng.normal(size=(length, 17, 2))
        windows = eval_windows(seq, 27)
        # Predictions that say which window they came from: the overlap must come from the
        # full windows, only the uncovered tail from the last one.
        marked = windows.copy()
        marked[..., 0] = np.arange(len(windows))[:, None, None]
        out = reassemble(marked, length)
        assert out.shape == (length, 17, 2)
        expected = np.minimum(np.arange(length) // 27, len(windows) - 1)
        np.testing.assert_array_equal(out[:, 0, 0], expected)
        np.testing.assert_array_equal(reassemble(windows, length), seq)


def test_benchmark_runs():
    rate = benchmark_batch_assembly(frames=27, total_frames=20_000, min_seconds=0.05)
    assert rate > 1e5
