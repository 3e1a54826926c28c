"""Training the trajectory model (:mod:`starpose.models.trajectory`) on camera-varied synthetic data.

The data: ``starpose synth --cameras varied`` takes generated in memory (each take seen by one
Human3.6M camera and three phone/webcam/action cameras), detector-like 2D keypoints turned into
rays with each camera's intrinsics, and the root's true camera coordinates. Training subjects
S1, S5, S6, S7, S8; the held-out subjects S9 and S11 give the numbers in the manifest.

Each step takes ``batch`` random crops of ``receptive_field + CROP_OUT - 1`` frames (so every
crop trains ``CROP_OUT`` outputs), Adam with the learning rate decayed linearly to a tenth,
until ``steps`` steps or ``minutes`` minutes, whichever comes first.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch

from starpose.models.trajectory import (TrajectoryConfig, TrajectoryNet, decode_root,
                                        inverse_depth_loss, predict_root, ray_features)
from starpose.world.intrinsics import to_rays
from starpose.world.scores import root_errors

TRAIN_SUBJECTS = ("S1", "S5", "S6", "S7", "S8")
TEST_SUBJECTS = ("S9", "S11")
CROP_OUT = 32


@dataclass(frozen=True)
class RootSample:
    """One take through one camera: ``rays`` (T, 17, 2) float32 and ``root`` (T, 3) metres."""

    rays: np.ndarray
    root: np.ndarray
    camera: int


def root_samples(preset: str, seed: int, subjects: tuple[str, ...],
                 keypoints: str = "noisy") -> list[RootSample]:
    """The samples of the varied synthetic set ``preset``/``seed`` for ``subjects``."""
    from starpose.datasets.h36m.synthetic import generate_arrays

    arrays = generate_arrays(preset, seed, False, subjects=subjects, cameras="varied")
    cams = arrays["cameras"]
    samples = []
    for subject in subjects:
        for take, views in arrays[keypoints][subject].items():
            intrinsics = np.asarray(cams["intrinsics"][subject][take], np.float64)
            for c, view in enumerate(views):
                rays = to_rays(np.asarray(view, np.float64), intrinsics[c, :4])
                samples.append(RootSample(rays.astype(np.float32),
                                          np.asarray(cams["root_camera"][subject][take][c],
                                                     np.float64), c))
    return samples


def _batch(samples: list[RootSample], length: int, size: int, rng) -> tuple[torch.Tensor, ...]:
    """``size`` random crops of ``length`` frames (shorter takes padded by repetition)."""
    rays, roots = [], []
    for k in rng.integers(len(samples), size=size):
        s = samples[k]
        start = int(rng.integers(0, max(len(s.rays) - length, 0) + 1))
        r, t = s.rays[start:start + length], s.root[start:start + length]
        if len(r) < length:
            r = np.concatenate([r, r[-1:].repeat(length - len(r), 0)])
            t = np.concatenate([t, t[-1:].repeat(length - len(t), 0)])
        rays.append(r)
        roots.append(t)
    return torch.as_tensor(np.stack(rays)), torch.as_tensor(np.stack(roots), dtype=torch.float32)


def train_steps(model: TrajectoryNet, samples: list[RootSample], *, steps: int, minutes: float,
                batch: int = 64, lr: float = 1e-3, seed: int = 0, progress=None) -> dict:
    """Train ``model`` in place; returns ``{"steps", "seconds", "final_loss"}``."""
    rng = np.random.default_rng(seed)
    torch.manual_seed(seed)
    field = model.config.receptive_field
    length, half = field + CROP_OUT - 1, field // 2
    optimiser = torch.optim.Adam(model.parameters(), lr=lr)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimiser, lambda k: 1 - 0.9 * k / steps)
    start, losses, step = time.monotonic(), [], 0
    model.train()
    for step in range(1, steps + 1):
        rays, truth = _batch(samples, length, batch, rng)
        features, scale, pelvis = ray_features(rays)
        centre = slice(half, length - half)
        pred = decode_root(model(features), scale[:, centre], pelvis[:, centre])
        loss = inverse_depth_loss(pred, truth[:, centre])
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        schedule.step()
        losses.append(loss.item())
        if progress is not None:
            progress.update(1)
            progress.set_postfix(loss=f"{np.mean(losses[-50:]):.4f}")
        if time.monotonic() - start > minutes * 60:
            break
    model.eval()
    return {"steps": step, "seconds": round(time.monotonic() - start, 1),
            "final_loss": float(np.mean(losses[-200:]))}


def evaluate_roots(model: TrajectoryNet, samples: list[RootSample]) -> dict:
    """Mean root error (mm), error per distance, over ``samples`` (frame-weighted per sample)."""
    errors, fractions, frames = [], [], []
    for s in samples:
        mm, frac = root_errors(predict_root(model, s.rays.astype(np.float64)), s.root)
        errors.append(mm * 1000)
        fractions.append(frac)
        frames.append(len(s.rays))
    w = np.asarray(frames, np.float64)
    return {"root_mm": float(np.average(errors, weights=w)),
            "root_per_distance": float(np.average(fractions, weights=w)), "sequences": len(samples)}


def train_trajectory(weights, *, preset: str = "small", seed: int = 0, steps: int = 6000,
                     minutes: float = 14.0, config: TrajectoryConfig = TrajectoryConfig(),
                     progress: bool = True) -> dict:
    """Generate the data, train, measure on the held-out subjects and write ``weights``
    (``.npz``) with its manifest (``.json`` beside it) atomically; returns the manifest."""
    import json
    from pathlib import Path

    from tqdm import tqdm

    from starpose.io import atomic_files
    from starpose.models.trajectory_weights import save_trajectory_model

    train = root_samples(preset, seed, TRAIN_SUBJECTS)
    test = root_samples(preset, seed, TEST_SUBJECTS)
    model = TrajectoryNet(config)
    with tqdm(total=steps, desc="trajectory", unit="step", disable=not progress) as bar:
        log = train_steps(model, train, steps=steps, minutes=minutes, seed=seed, progress=bar)
    manifest = {"data": {"synth_preset": preset, "seed": seed, "cameras": "varied",
                         "keypoints": "noisy", "train_subjects": list(TRAIN_SUBJECTS),
                         "test_subjects": list(TEST_SUBJECTS), "train_sequences": len(train)},
                "training": {**log, "batch": 64, "lr": 1e-3, "crop_out": CROP_OUT,
                             "loss": "mean |root - true| / true_z"},
                "numbers": {"held_out": evaluate_roots(model, test)}}
    weights = Path(weights)
    with atomic_files(make_parents=True) as stage:
        full = save_trajectory_model(model, stage(weights), manifest)
        stage(weights.with_suffix(".json")).write_text(json.dumps(full, indent=2) + "\n")
    return full
