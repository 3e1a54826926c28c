"""Cutting sequences into fixed-length windows: training batches and sequence-to-sequence
evaluation.

Training (the chunking of the published seq2seq pipeline): a sequence of T frames gives
``n = ceil(T / F)`` non-overlapping windows of F frames, centred on the sequence: window k starts
at frame ``k * F - offset`` with ``offset = (n * F - T) // 2``, and frames before the start or
after the end repeat the first or last frame (edge padding). With flip augmentation every window
appears a second time, mirrored (2D inputs and 3D targets).

Evaluation: :func:`eval_windows` covers a sequence with consecutive windows plus one aligned to
its end, and :func:`reassemble` puts the per-frame predictions back together.
"""
from __future__ import annotations

import math

import numpy as np
import torch

from starpose.data.skeleton import H36M_17, Skeleton


def train_window_starts(length: int, frames: int) -> np.ndarray:
    """First frame of each training window of a sequence of ``length`` frames (may be < 0)."""
    return _window_table(np.array([length]), frames)[1]


class TrainWindows:
    """All training windows of a set of sequences, as ready-to-gather arrays.

    ``sequences_2d``: list of (T_i, J, 2) inputs; ``sequences_3d``: list of (T_i, J, 3) targets
    with the same lengths. The windows are materialised once, back to back, in two arrays of
    shape (W, F, J, C), so assembling a batch is a single gather along the first axis (the
    contiguous equivalent of ``big[starts[:, None] + arange(F)]``). Mirrored copies are not
    stored (that would double the memory): flipped items are mirrored after the gather.

    Targets are returned as given: the root joint keeps its trajectory unless ``zero_root=True``,
    in which case joint ``root`` of every target is set to zero (the lifting models predict root-relative
    poses; the training code may equally zero it itself).

    Shuffling uses a ``numpy.random.Generator`` seeded with ``seed``; each call to
    :meth:`epoch_batches` draws one permutation from it, and :meth:`state_dict` /
    :meth:`load_state_dict` save and restore it so a resumed run sees the same epochs.
    """

    def __init__(self, sequences_2d, sequences_3d, frames: int, flip_augment: bool = True,
                 seed: int = 0, skeleton: Skeleton = H36M_17, zero_root: bool = False,
                 root: int = 0):
        if len(sequences_2d) != len(sequences_3d) or not sequences_2d:
            raise ValueError("TrainWindows: need the same, non-zero number of 2D and 3D sequences")
        if frames < 1:
            raise ValueError(f"TrainWindows: frames must be >= 1, got {frames}")
        lengths = np.array([len(s) for s in sequences_2d])
        if any(len(s3) != n for s3, n in zip(sequences_3d, lengths)) or lengths.min() < 1:
            raise ValueError("TrainWindows: 2D and 3D sequences must have equal, non-zero lengths")
        self.frames = frames
        self.flip_augment = flip_augment
        self.flip_permutation = np.asarray(skeleton.flip_permutation)
        self.sequence_index, self.window_start = _window_table(lengths, frames)
        frame_index = _frame_index(lengths, self.sequence_index, self.window_start, frames)
        self.inputs = _gather_frames(sequences_2d, frame_index)
        self.targets = _gather_frames(sequences_3d, frame_index)
        if zero_root:  # the root joint's index is the dataset's (MPI-INF-3DHP: 14, the pelvis)
            self.targets[:, :, root] = 0
        self.seed = seed
        self._rng = np.random.default_rng(seed)

    @property
    def num_windows(self) -> int:
        """Distinct windows, without the mirrored copies."""
        return len(self.inputs)

    def __len__(self) -> int:
        """Items per epoch: every window, twice with flip augmentation."""
        return self.num_windows * (2 if self.flip_augment else 1)

    def item(self, index: int):
        """Item ``index`` as ``(inputs (F, J, 2), targets (F, J, 3))``; index >= W is mirrored."""
        x, y = self._gather(np.array([index]))
        return x[0], y[0]

    def num_batches(self, batch_size: int, world_size: int = 1, drop_last: bool = False) -> int:
        """Batches each rank gets from one call to :meth:`epoch_batches`."""
        per_rank = math.ceil(len(self) / world_size)
        return per_rank // batch_size if drop_last else math.ceil(per_rank / batch_size)

    def epoch_batches(self, batch_size: int, *, shuffle: bool = True, rank: int = 0,
                      world_size: int = 1, drop_last: bool = False, as_torch: bool = False,
                      start_batch: int = 0):
        """Yield the batches ``(inputs (B, F, J, 2), targets (B, F, J, 3))`` of one epoch.

        The permutation is drawn when this method is called (not lazily), so the generator state
        after the call is well defined. Sharding for DistributedDataParallel: every rank builds
        the same object with the same seed, hence draws the same permutation; it is padded by
        wrapping around to a multiple of ``world_size`` and rank r takes items ``r, r + W, ...``
        (W = world_size), then cuts them into batches of ``batch_size``. The global batch of step
        s is the union of the ranks' batch s: ``batch_size * world_size`` items, disjoint
        between ranks, and every rank runs the same number of steps. ``start_batch`` skips the
        first batches (to resume in the middle of an epoch: restore the state saved before the
        epoch began). Arrays are float32 numpy, or torch tensors sharing their memory if
        ``as_torch``.
        """
        if not 0 <= rank < world_size:
            raise ValueError(f"epoch_batches: rank {rank} not in [0, {world_size})")
        order = self._rng.permutation(len(self)) if shuffle else np.arange(len(self))
        padded = math.ceil(len(order) / world_size) * world_size
        order = np.resize(order, padded)[rank::world_size]  # np.resize repeats from the start
        stop = len(order) - len(order) % batch_size if drop_last else len(order)
        return self._batches(order[:stop], batch_size, start_batch, as_torch)

    def _batches(self, order, batch_size, start_batch, as_torch):
        for begin in range(start_batch * batch_size, len(order), batch_size):
            x, y = self._gather(order[begin:begin + batch_size])
            yield (torch.from_numpy(x), torch.from_numpy(y)) if as_torch else (x, y)

    def _gather(self, items: np.ndarray):
        windows = items % self.num_windows
        x = np.take(self.inputs, windows, axis=0)
        y = np.take(self.targets, windows, axis=0)
        flipped = np.flatnonzero(items >= self.num_windows)
        if len(flipped):
            for array in (x, y):
                # np.take on the joint axis is ~2x faster than fancy indexing there.
                mirrored = np.take(array[flipped], self.flip_permutation, axis=2)
                mirrored[..., 0] *= -1
                array[flipped] = mirrored
        return x, y

    def state_dict(self) -> dict:
        """The shuffling state (plain Python data, safe to store in a checkpoint)."""
        return {"seed": self.seed, "rng": self._rng.bit_generator.state}

    def load_state_dict(self, state: dict) -> None:
        self.seed = state["seed"]
        self._rng = np.random.default_rng(self.seed)
        self._rng.bit_generator.state = state["rng"]


def _window_table(lengths: np.ndarray, frames: int):
    """(sequence index (W,), start frame (W,)) of every training window of sequences of
    ``lengths`` (S,) frames: the module docstring's formula, vectorised over the sequences."""
    counts = -(-lengths // frames)  # ceil(T / F) in integers
    offsets = (counts * frames - lengths) // 2
    sequence = np.repeat(np.arange(len(lengths)), counts)
    first = np.cumsum(counts) - counts  # index of each sequence's first window
    k = np.arange(counts.sum()) - first[sequence]
    return sequence, k * frames - offsets[sequence]


def _frame_index(lengths, sequence, start, frames) -> np.ndarray:
    """(W, F) indices into the concatenated sequences, clipped to each sequence (edge padding)."""
    local = np.clip(start[:, None] + np.arange(frames), 0, lengths[sequence][:, None] - 1)
    seq_offset = np.cumsum(lengths) - lengths
    return local + seq_offset[sequence][:, None]


def _gather_frames(sequences, frame_index) -> np.ndarray:
    big = np.concatenate([np.asarray(s, dtype=np.float32) for s in sequences])
    return big[frame_index]


def eval_window_starts(length: int, frames: int) -> np.ndarray:
    """Starts of the evaluation windows: 0, F, 2F, ... plus ``length - F`` when F does not
    divide ``length``; ``[0]`` when ``length < frames``."""
    if length <= frames:
        return np.zeros(1, dtype=np.int64)
    starts = np.arange(length // frames) * frames
    if length % frames:
        starts = np.append(starts, length - frames)
    return starts


def eval_windows(seq, frames: int):
    """Cut ``seq (T, J, C)`` (numpy or torch) into windows ``(W, F, J, C)`` covering every frame.

    Consecutive non-overlapping windows, then a last one ending on the last frame (overlapping
    the one before when T % F != 0). When T < F: one window, right-padded with the last frame.
    """
    length = len(seq)
    index = eval_window_starts(length, frames)[:, None] + np.arange(frames)
    index = np.minimum(index, length - 1)
    if isinstance(seq, torch.Tensor):
        return seq[torch.as_tensor(index, device=seq.device)]
    return seq[index]


def reassemble(windows, length: int):
    """Inverse of :func:`eval_windows`: ``(W, F, J, C)`` -> ``(T, J, C)``, each frame taken once.

    Frame t comes from window ``min(t // F, W - 1)``: the full windows first, and from the
    overlapping end window only the frames they do not cover. For T < F the first T frames of
    the single window are returned.
    """
    frames = windows.shape[1]
    starts = eval_window_starts(length, frames)
    t = np.arange(length)
    window = np.minimum(t // frames, len(starts) - 1)
    offset = t - starts[window]
    if isinstance(windows, torch.Tensor):
        window, offset = (torch.as_tensor(i, device=windows.device) for i in (window, offset))
    return windows[window, offset]
