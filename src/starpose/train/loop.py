"""Training with the published MixSTE recipe.

* Data: the train subjects' (video, camera) sequences cut into windows of F frames with flip
  augmentation (:class:`starpose.data.windows.TrainWindows`), targets with the root set to 0.
* Loss: weighted MPJPE + 0.5 * temporal consistency + 2.0 * MPJVE (:mod:`starpose.train.loss`).
* Optimiser: AdamW (weight decay 0.1; torch's fused implementation, :func:`starpose.train.optimizer.adamw`),
  learning rate times ``lr_decay`` (0.99) after every epoch.
* The published code back-propagates with the loss value as upstream gradient, i.e. it descends
  on 0.5 * L^2 (``loss_mode="squared"``, the default); ``loss_mode="plain"`` descends on L.
* After every epoch: protocol #1 on the test subjects (flip averaging); ``best.pt`` and
  ``last.pt`` written atomically; a CSV row, TensorBoard scalars.

Reliability (:doc:`docs/reliability.md`): one process per run folder (:mod:`starpose.runlock`);
``last.pt`` rotated with ``last.prev.pt`` and checksummed (:mod:`starpose.train.run_checkpoints`), also
every ``checkpoint_every`` steps; SIGINT and SIGTERM save and exit 130 / 143
(:mod:`starpose.train.interrupts`).

Resuming restores model, optimiser, learning rate, epoch, window order and RNG states, also from
the middle of an epoch (Ctrl-C saves and exits), so a resumed run ends with the same weights as an
uninterrupted one. Under ``torchrun`` it runs DistributedDataParallel: the global batch is split
between ranks, metrics are reduced across ranks and only rank 0 writes files.
"""
from __future__ import annotations

import csv
import itertools
import json
import math
import sys
import time
from dataclasses import asdict, replace
from pathlib import Path
from typing import Callable

import torch
from tqdm.auto import tqdm

from starpose.train.config import TrainConfig, config_from_run, jsonable  # noqa: F401 (re-exported)
from starpose.train.distributed import all_mean, reduced_validation, setup_distributed
from starpose.datasets.registry import get_dataset
from starpose.data.windows import TrainWindows
from starpose.errors import StarposeError
from starpose.evaluate.protocol import check_frames_fit, evaluate_model
from starpose.inference.predictors import autocast, predict_windows, resolve_device
from starpose.train.interrupts import shielded, signals_interrupt
from starpose.io import atomic_write_text
from starpose.train.loss import mixste_loss
from starpose.train.optimizer import adamw
from starpose.models.checkpoints import load_weights, save_checkpoint
from starpose.models.mixste import MixSTE
from starpose.train.run_checkpoints import position, read_resume_checkpoint, remove_stale_temporaries, rotate_in
from starpose.data.model_input import sequences_input
from starpose.train.init_from import initial_weights
from starpose.runlock import folder_lock
from starpose.train.log import StepLog, start_line


class Trainer:
    """One training run; :meth:`fit` trains until ``epochs`` and returns the per-epoch rows."""

    def __init__(self, config: TrainConfig, resume: bool = False,
                 on_batch_end: Callable[[int, int], None] | None = None):
        self.config = config.resolved()
        self.dataset = get_dataset(self.config.dataset)
        self.device = resolve_device(self.config.device)
        self.dist = setup_distributed(self.device)
        self.out = Path(self.config.out)
        self.on_batch_end = on_batch_end
        self._check_config()
        initial = None if resume else self._initial_weights()  # resuming restores the weights
        self._load_data()
        torch.manual_seed(self.config.seed)
        self.model = MixSTE.from_config(self.config.model_config()).to(self.device)
        if initial is not None:
            load_weights(self.model, initial, self.config.init_from)
        self.optimizer = adamw(self.model.parameters(), lr=self.config.lr, weight_decay=self.config.weight_decay)
        self.epoch, self.batch_in_epoch, self.best = 0, 0, math.inf
        self.epoch_start_state = self.windows.state_dict()
        self.epoch_sums = _empty_sums()  # the running epoch's loss sums, steps, frames, seconds
        self.rows: list[dict] = []
        self.resumed_from: str | None = None  # "last.pt at epoch 3, step 40" after a resume
        if resume:
            self._restore(self.out)
        self.forward_model = self._wrap(self.model)

    # ----------------------------------------------------------------- set-up
    def _check_config(self) -> None:
        cfg = self.config
        if cfg.loss_mode not in ("squared", "plain"):
            raise StarposeError(f"loss mode must be 'squared' or 'plain', got {cfg.loss_mode!r}")
        if cfg.batch_size % self.dist.world_size:
            raise StarposeError(f"batch size {cfg.batch_size} is not divisible by the "
                                f"{self.dist.world_size} processes")
        if self.out.exists() and not self.out.is_dir():
            raise StarposeError(f"{self.out}: exists and is not a folder")
        for parent in self.out.parents:
            if parent.exists() and not parent.is_dir():
                raise StarposeError(f"{self.out}: cannot create the run folder ({parent} is a file)")

    def _initial_weights(self) -> dict | None:
        """The weights of ``init_from`` (None without); settles the input normalisation."""
        cfg = self.config
        if not cfg.init_from:
            self.config = replace(cfg, input_norm=cfg.input_norm or "screen")
            return None
        model = cfg.model_config()
        state, norm = initial_weights(cfg.init_from, model.num_joints, model.num_frames, cfg.input_norm)
        self.config = replace(cfg, input_norm=norm)
        return state

    def _load_data(self) -> None:
        cfg = self.config
        dataset = self.dataset
        sequences = dataset.load(cfg.data_dir, cfg.keypoints,
                                 list(dict.fromkeys(cfg.subjects_train + cfg.subjects_test)))
        # As the published recipe, the action filter applies to training and validation alike.
        if cfg.actions:
            dataset.check_actions(sequences, cfg.actions, cfg.data_dir)
        actions = tuple(cfg.actions) if cfg.actions else (dataset.actions_evaluated or None)
        self.train_sequences = dataset.select(sequences, subjects=cfg.subjects_train, actions=actions)
        self.test_sequences = dataset.select(sequences, subjects=cfg.subjects_test, actions=actions)
        for name, split in (("training", self.train_sequences), ("test", self.test_sequences)):
            if not split:
                raise StarposeError(f"{cfg.data_dir}: the {name} split is empty (subjects "
                                    f"{', '.join(getattr(cfg, 'subjects_train' if name == 'training' else 'subjects_test'))})")
        frames = cfg.model_config().num_frames
        check_frames_fit(frames, self.train_sequences, f"training {cfg.preset}")
        # Validation converts the test sequences when it feeds the model (evaluate.predict_all).
        train_inputs = sequences_input(self.train_sequences, cfg.model_config().input_norm)
        self.windows = TrainWindows([s.keypoints_2d for s in train_inputs],
                                    [s.positions_3d for s in self.train_sequences],
                                    frames=frames, flip_augment=cfg.flip_augment,
                                    seed=cfg.seed, skeleton=dataset.skeleton, zero_root=True,
                                    root=dataset.root)

    def _wrap(self, model: MixSTE) -> torch.nn.Module:
        if self.dist.world_size > 1:
            ids = [self.device.index] if self.device.type == "cuda" else None
            model = torch.nn.parallel.DistributedDataParallel(model, device_ids=ids)
        if self.config.compile:
            model = torch.compile(model, dynamic=False)  # fixed shapes: see drop_last in _train_epoch
        return model

    # ----------------------------------------------------------------- state
    def state(self) -> dict:
        return {
            "epoch": self.epoch,
            "lr": self.optimizer.param_groups[0]["lr"],
            "optimizer": self.optimizer.state_dict(),
            "train_config": jsonable(asdict(self.config)),
            "train_state": {
                "batch_in_epoch": self.batch_in_epoch,
                "windows": self.epoch_start_state,
                "epoch_sums": dict(self.epoch_sums),
                "torch_rng": torch.get_rng_state(),
                "cuda_rng": torch.cuda.get_rng_state_all() if self.device.type == "cuda" else None,
                "best": self.best,
                "rows": self.rows,
            },
        }

    def _restore(self, run_dir: Path) -> None:
        data, path = read_resume_checkpoint(run_dir)
        if "train_state" not in data:
            raise StarposeError(f"{path}: not a starpose training checkpoint (no training state)")
        load_weights(self.model, data["model"], path)
        self.optimizer.load_state_dict(data["optimizer"])
        ts = data["train_state"]
        self.resumed_from = f"{path.name} ({position(data)})"
        self.epoch, self.batch_in_epoch, self.best = data["epoch"], ts["batch_in_epoch"], ts["best"]
        self.rows = list(ts["rows"])
        self.epoch_start_state = ts["windows"]
        self.epoch_sums = dict(ts.get("epoch_sums") or _empty_sums())
        self.windows.load_state_dict(ts["windows"])
        torch.set_rng_state(ts["torch_rng"])
        if ts.get("cuda_rng") is not None and self.device.type == "cuda":
            torch.cuda.set_rng_state_all(ts["cuda_rng"])  # dropout / drop-path masks on the GPU

    def save(self, name: str) -> None:
        """Write ``name`` atomically; ``last.pt`` keeps its predecessor as ``last.prev.pt``.
        SIGINT / SIGTERM wait until the file is complete."""
        if not self.dist.is_main:
            return
        with shielded():
            state = self.state()
            if name == "last.pt":
                rotate_in(self.out, lambda path: save_checkpoint(path, self.model, **state))
            else:
                save_checkpoint(self.out / name, self.model, **state)

    # ----------------------------------------------------------------- loop
    @property
    def finished(self) -> bool:
        return self.epoch >= self.config.epochs

    def fit(self) -> list[dict]:
        """Train to ``epochs`` holding the run folder's lock; a finished run writes nothing."""
        if self.finished:
            return self.rows
        if not self.dist.is_main:
            return self._fit()
        _make_run_folder(self.out)
        with folder_lock(self.out, "training run"), signals_interrupt():
            _note_stale_temporaries(self.out)
            print(start_line(self.out, self.resumed_from, self.epoch, self.batch_in_epoch, self.steps_per_epoch(),
                             self.config, len(self.windows), torch.get_num_threads(), self.device,
                             self._plain_lines()), flush=True)
            return self._fit()

    def _fit(self) -> list[dict]:
        if self.dist.is_main:
            written = dict(asdict(self.config), model=asdict(self.config.model_config()))
            atomic_write_text(self.out / "config.json", json.dumps(jsonable(written), indent=2))
        writer = self._summary_writer()
        try:
            while self.epoch < self.config.epochs:
                row = self._train_epoch()
                self._end_epoch(row, writer)
        except KeyboardInterrupt:
            self.save("last.pt")
            if self.dist.is_main:
                print(f"\ninterrupted: saved {self.out / 'last.pt'}, from which the run resumes",
                      file=sys.stderr)
            raise
        finally:
            if writer is not None:
                writer.close()
        return self.rows

    def _train_epoch(self) -> dict:
        cfg, info = self.config, self.dist
        if self.batch_in_epoch == 0:
            self.epoch_start_state = self.windows.state_dict()
            self.epoch_sums = _empty_sums()
        else:  # resuming mid-epoch: draw the same permutation again
            self.windows.load_state_dict(self.epoch_start_state)
        per_rank = cfg.batch_size // info.world_size
        # A compiled model sees one batch shape only: the smaller last batch would recompile it.
        drop_last = cfg.compile
        batches = self.windows.epoch_batches(per_rank, rank=info.rank, world_size=info.world_size,
                                             drop_last=drop_last, as_torch=True, start_batch=self.batch_in_epoch)
        total = self.steps_per_epoch()
        self.model.train()
        sums, seconds_before, begin = self.epoch_sums, self.epoch_sums["seconds"], time.perf_counter()
        batches = itertools.islice(batches, max(total - self.batch_in_epoch, 0))
        bar = tqdm(batches, total=total, initial=self.batch_in_epoch, desc=f"epoch {self.epoch + 1}/{cfg.epochs}",
                   disable=self._progress_disabled(), leave=False, dynamic_ncols=True)
        step_log = StepLog(cfg.log_every, total, enabled=self.dist.is_main and bool(bar.disable))
        for inputs, targets in bar:
            # A signal mid-step would save updated weights with the old step count (and the
            # resumed run would repeat the step): the step and its bookkeeping are one unit.
            with shielded("finishing the current step, then saving"):
                terms = self._step(inputs.to(self.device), targets.to(self.device))
                for k in LOSS_TERMS:
                    sums[k] += terms[k]
                sums["steps"] += 1
                sums["frames"] += inputs.shape[0] * inputs.shape[1] * info.world_size
                sums["seconds"] = seconds_before + time.perf_counter() - begin
                self.batch_in_epoch += 1
            bar.set_postfix(loss=f"{terms['total']:.4f}", lr=f"{self.optimizer.param_groups[0]['lr']:.2e}",
                            fps=f"{sums['frames'] / sums['seconds']:.0f}")
            step_log.step(self.epoch, self.batch_in_epoch, terms["total"], sums)
            if cfg.checkpoint_every and self.batch_in_epoch % cfg.checkpoint_every == 0 and self.batch_in_epoch < total:
                self.save("last.pt")
            if self.on_batch_end is not None:
                self.on_batch_end(self.epoch, self.batch_in_epoch)
        # Over the whole epoch, also when it was interrupted and resumed.
        row = {f"train_{k}": sums[k] / max(sums["steps"], 1) for k in LOSS_TERMS}
        seconds = sums["seconds"]
        row.update(frames_per_s=sums["frames"] / seconds if seconds > 0 else 0.0, seconds=seconds)
        return row

    def steps_per_epoch(self) -> int:
        """Optimiser steps of one epoch (the last, smaller batch dropped when compiled)."""
        cfg, info = self.config, self.dist
        total = self.windows.num_batches(cfg.batch_size // info.world_size, info.world_size, drop_last=cfg.compile)
        return min(total, cfg.max_batches_per_epoch) if cfg.max_batches_per_epoch else total

    def _step(self, inputs: torch.Tensor, targets: torch.Tensor) -> dict[str, float]:
        self.optimizer.zero_grad(set_to_none=True)
        with autocast(self.device, self.config.amp):
            pred = self.forward_model(inputs)
        terms = mixste_loss(pred.float(), targets, weights=self.dataset.loss_joint_weights)
        values = torch.stack([terms.total, terms.wmpjpe, terms.tc, terms.mpjve]).detach()
        values = all_mean(values, self.dist)
        if self.config.loss_mode == "squared":
            # d(0.5 L^2) = L dL, with L the loss of the global batch (the published upstream gradient)
            terms.total.backward(values[0])
        else:
            terms.total.backward()
        self.optimizer.step()
        return dict(zip(LOSS_TERMS, values.tolist()))

    def _end_epoch(self, row: dict, writer) -> None:
        lr = self.optimizer.param_groups[0]["lr"]
        val = self.validate()
        with shielded():  # the epoch's end (counters, lr decay, checkpoints) happens whole or not at all
            self._close_epoch(row, writer, lr, val)

    def _close_epoch(self, row: dict, writer, lr: float, val: float) -> None:
        self.epoch += 1
        self.batch_in_epoch = 0
        for group in self.optimizer.param_groups:
            group["lr"] *= self.config.lr_decay
        row = {"epoch": self.epoch, "lr": lr, **row, "val_mpjpe": val}
        self.rows.append(row)
        improved = val < self.best
        self.best = min(self.best, val)
        self.epoch_start_state = self.windows.state_dict()
        self.save("last.pt")
        if improved:
            self.save("best.pt")
        if self.dist.is_main:
            self._log(row, writer, improved)

    def validate(self) -> float:
        """The dataset's validation metric on the test subjects (default: protocol #1, mm,
        action-wise average; on several ranks: that default, shards reduced over ranks)."""
        info = self.dist
        sequences = self.test_sequences[::self.config.val_stride]
        skeleton, metric = self.dataset.skeleton, self.dataset.validation_metric
        if info.world_size == 1 and metric is not None:
            return metric(self.model, sequences, predict=predict_windows, batch_size=self.config.eval_batch_size,
                          amp=self.config.amp, skeleton=skeleton)
        if info.world_size == 1:
            return evaluate_model(self.model, sequences, batch_size=self.config.eval_batch_size,
                                  amp=self.config.amp, skeleton=skeleton)["all"]["Average"]["mpjpe"]
        return reduced_validation(self.model, sequences[info.rank::info.world_size], info,
                                  skeleton=skeleton, batch_size=self.config.eval_batch_size,
                                  amp=self.config.amp)

    # ----------------------------------------------------------------- logging
    def _progress_disabled(self):
        if not self.dist.is_main:
            return True
        return None if self.config.progress is None else not self.config.progress

    def _plain_lines(self) -> bool:
        """Whether progress comes as :class:`StepLog` lines (no progress bar: not a terminal)."""
        disabled = self._progress_disabled()
        return (not sys.stderr.isatty()) if disabled is None else disabled

    def _summary_writer(self):
        if not self.dist.is_main:
            return None
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:  # tensorboard is a dependency, but stay usable without it
            return None
        return SummaryWriter(log_dir=str(self.out / "tensorboard"), purge_step=self.epoch + 1)

    def _log(self, row: dict, writer, improved: bool) -> None:
        path = self.out / "metrics.csv"
        new = not path.exists() or self.epoch == 1
        with open(path, "w" if new else "a", newline="") as fh:
            out = csv.DictWriter(fh, fieldnames=list(row))
            if new:
                out.writeheader()
            out.writerow(row)
        if writer is not None:
            for key, value in row.items():
                if key != "epoch":
                    writer.add_scalar(key, value, self.epoch)
            writer.flush()
        mark = " *" if improved else ""
        print(f"epoch {self.epoch:3d}  loss {row['train_total']:.4f}  lr {row['lr']:.2e}  "
              f"{row['frames_per_s']:,.0f} frames/s  val MPJPE {row['val_mpjpe']:.2f} mm{mark}", flush=True)


def train(config: TrainConfig, resume: bool = False) -> list[dict]:
    """Train (or resume) a run; returns the per-epoch rows."""
    return Trainer(config, resume=resume).fit()


LOSS_TERMS = ("total", "wmpjpe", "tc", "mpjve")


def _empty_sums() -> dict:
    return dict.fromkeys(LOSS_TERMS, 0.0) | {"steps": 0, "frames": 0, "seconds": 0.0}


def _make_run_folder(out: Path) -> None:
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise StarposeError(f"{out}: cannot create the run folder ({err.strerror or err})") from None


def _note_stale_temporaries(out: Path) -> None:
    """Remove what a kill during a checkpoint write left behind (the lock is held), in one line."""
    stale = remove_stale_temporaries(out)
    if stale:
        names = ", ".join(p.name for p in stale[:3]) + (", ..." if len(stale) > 3 else "")
        print(f"note: {out}: removed {len(stale)} temporary file(s) left by an interrupted write ({names})",
              file=sys.stderr)
