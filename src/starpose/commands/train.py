"""``starpose train``: parsed options -> :class:`starpose.train.loop.TrainConfig` -> ``Trainer.fit``.

An option's default is its TrainConfig field's default (:func:`config_defaults`), and an option
whose name is a field's fills that field. Options left unset (epochs, batch size, learning rate)
stay None in the config, so the preset's recipe fills them in (:meth:`TrainConfig.resolved`).
"""
from __future__ import annotations

import argparse
import sys
from dataclasses import fields
from pathlib import Path

from starpose.commands.common import (add_command_parser, add_device_argument, comma_list,
                                      decay_factor, non_negative_float, non_negative_int,
                                      positive_float, positive_int, probability,
                                      add_threads_argument)
from starpose.datasets.registry import dataset_names
from starpose.errors import StarposeError
from starpose.train.config import TrainConfig, config_defaults
from starpose.train.recipes import RECIPES, size_defaults

#: TrainConfig's defaults, which are the options' defaults.
DEFAULTS = config_defaults()

EXAMPLES = (
    "starpose train --data-dir data/synthetic/small --keypoints noisy --preset star-mixste-27 --out runs/s27",
    "starpose train --recipe bundled --data-dir data/synthetic/small --out runs/bundled   # the shipped model",
    "starpose train --dataset humaneva --data-dir data/humaneva --preset star-mixste-27-humaneva --out runs/he27",
)


def model_preset(text: str) -> str:
    """A preset of :data:`starpose.models.PRESETS`, checked when the command runs (the models
    import torch, which ``--help`` must not)."""
    from starpose.models import PRESETS

    if text not in PRESETS:
        raise argparse.ArgumentTypeError(f"unknown preset {text!r} (choose from {', '.join(PRESETS)})")
    return text


def add_parser(subparsers) -> None:
    p = add_command_parser(
        subparsers, "train", help="train MixSTE / Star-MixSTE with the published recipe",
        description="Train on Human3.6M-format data (real or synthetic) with the MixSTE recipe. "
        "Start with torchrun for DistributedDataParallel on several GPUs or processes.",
        examples=EXAMPLES,
    )
    _add_run_arguments(p)
    _add_model_arguments(p)
    _add_optimiser_arguments(p)
    _add_data_arguments(p)
    add_device_argument(p, default=DEFAULTS["device"])
    add_threads_argument(p)
    p.add_argument("--amp", choices=("bf16",), help="bf16 autocast (fp32 master weights)")
    p.add_argument("--compile", action="store_true", help="torch.compile the model")
    p.add_argument("--recipe", choices=tuple(RECIPES),
                   help="a named recipe's settings: " + "; ".join(f"{r.name}: {r.description}" for r in RECIPES.values())
                   + " (options it sets may only be repeated with the same values)")
    # every option's default, for the recipe check and for what a resume may change
    p.set_defaults(func=run, option_defaults={a.dest: a.default for a in p._actions if a.dest != "help"})


def _add_run_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--dataset", choices=dataset_names(), default=DEFAULTS["dataset"],
                   help="benchmark: its files, subjects, joints, loss weights and flip lists")
    p.add_argument("--data-dir", help="folder with the dataset's files (h36m: data_3d_h36m.npz and "
                   "data_2d_h36m_<name>.npz; humaneva: data_3d_humaneva15.npz and data_2d_humaneva15_<name>.npz)")
    p.add_argument("--keypoints", default=DEFAULTS["keypoints"], help="2D keypoints name")
    p.add_argument("--out", help="run folder (checkpoints, metrics.csv, tensorboard/, config.json)")
    p.add_argument("--resume", metavar="RUN_DIR",
                   help="continue an interrupted run exactly (with it only --epochs, --device, --progress, "
                        "--checkpoint-every and --log-every may be given)")
    p.add_argument("--checkpoint-every", type=positive_int, metavar="N",
                   help="also write last.pt every N steps within an epoch (default: once per epoch)")
    p.add_argument("--log-every", type=positive_int, default=DEFAULTS["log_every"], metavar="N",
                   help="without a progress bar (output not a terminal): a line with loss and speed every N steps")
    p.add_argument("--progress", action=argparse.BooleanOptionalAction, default=DEFAULTS["progress"],
                   help="progress bar (default: only when the output is a terminal)")


def _add_model_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--preset", type=model_preset, default=DEFAULTS["preset"], metavar="PRESET",
                   help="model preset, one of those `starpose info` lists")
    p.add_argument("--attention", choices=("star", "vanilla"), help="override the preset's attention")
    p.add_argument("--drop-path", type=probability, help="stochastic depth rate (published: 0.1)")
    p.add_argument("--frames", type=positive_int, help="override the preset's frame count")
    p.add_argument("--input-norm", choices=("screen", "box", "rays", "view"), default=None,
                   help="how 2D keypoints are normalised for the model (stored in the checkpoint): "
                   "screen (default, published: by the image width), box (relative to the person, "
                   "the same for any framing), rays ((u - c) / f: needs the camera's focal length, which "
                   "lift takes from --fov / --focal-px or assumes), view (rays, lifted in the camera "
                   "turned to the person); with --init-from: the checkpoint's")
    p.add_argument("--init-from", metavar="CKPT",
                   help="start from this checkpoint's weights ('bundled', a starpose or a published "
                   "checkpoint of the preset's size and the dataset's joints): a new run with a "
                   "fresh optimiser and the recipe's schedule (fine-tuning)")


def _add_optimiser_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--epochs", type=positive_int, help=f"epochs {_by_size('epochs')}")
    p.add_argument("--batch-size", type=positive_int,
                   help=f"windows per optimiser step over all processes {_by_size('batch_size')}")
    p.add_argument("--lr", type=positive_float, help=f"learning rate {_by_size('lr')}")
    p.add_argument("--lr-decay", type=decay_factor, default=DEFAULTS["lr_decay"], help="factor per epoch")
    p.add_argument("--weight-decay", type=non_negative_float, default=DEFAULTS["weight_decay"],
                   help="AdamW weight decay")
    p.add_argument("--loss", choices=("squared", "plain"), default=DEFAULTS["loss_mode"],
                   help="'squared': as published, descend on 0.5*L^2; 'plain': descend on L")


def _add_data_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--no-flip-augment", action="store_true", help="no flipped copies of the windows")
    p.add_argument("--subjects-train", type=comma_list,
                   help="comma-separated training subjects (default: the dataset's, h36m "
                   "S1,S5,S6,S7,S8; humaneva Train/S1,Train/S2,Train/S3)")
    p.add_argument("--subjects-test", type=comma_list,
                   help="comma-separated test subjects, validated after each epoch (default: the "
                   "dataset's, h36m S9,S11; humaneva Validate/S1,Validate/S2,Validate/S3)")
    p.add_argument("--actions", type=comma_list, help="comma-separated action types to use "
                   "(default: the dataset's evaluated actions, h36m all; humaneva Walk,Jog,Box)")
    p.add_argument("--max-batches-per-epoch", type=positive_int, help="cap each epoch at this many shuffled batches")
    p.add_argument("--val-stride", type=positive_int, default=DEFAULTS["val_stride"],
                   help="validate after each epoch on every k-th test sequence")
    p.add_argument("--seed", type=non_negative_int, default=DEFAULTS["seed"], help="random seed")


def _by_size(setting: str) -> str:
    """``(default: the preset's recipe, 243 frames: 120, ...)`` for an option a recipe sets."""
    return f"(default: the preset's recipe, {size_defaults(setting)})"


def apply_recipe(args: argparse.Namespace) -> None:
    """Fill ``args`` with ``--recipe``'s settings; an option given with another value is an error
    (a recipe is only reproducible as a whole)."""
    recipe = RECIPES[args.recipe]
    if args.dataset != recipe.data["dataset"]:
        raise StarposeError(f"--recipe {args.recipe} trains on --dataset {recipe.data['dataset']}")
    if recipe.starts_from and not args.init_from:
        raise StarposeError(f"--recipe {args.recipe} starts from the model of --recipe "
                            f"{recipe.starts_from}: give its weights with --init-from "
                            "(docs/bundled-model.md)")
    for dest, value in recipe.train.items():
        given = getattr(args, dest)
        if given not in (None, args.option_defaults[dest], value):
            raise StarposeError(f"--{dest.replace('_', '-')} {given} conflicts with --recipe {args.recipe} "
                                f"(which sets {value}); leave it out")
        setattr(args, dest, value)


def train_config(args: argparse.Namespace) -> TrainConfig:
    """The :class:`TrainConfig` that the parsed options describe: each option named as a field
    fills it; ``--loss``, ``--no-flip-augment``, ``--drop-path`` and ``--frames`` are mapped."""
    if getattr(args, "recipe", None):
        apply_recipe(args)
    overrides = {k: v for k, v in (("drop_path_rate", args.drop_path), ("num_frames", args.frames))
                 if v is not None}
    given = {f.name: getattr(args, f.name) for f in fields(TrainConfig) if hasattr(args, f.name)}
    return TrainConfig(**given, model_overrides=overrides, loss_mode=args.loss,
                       flip_augment=not args.no_flip_augment)


def run(args: argparse.Namespace) -> int:
    from starpose.io import check_output_path
    from starpose.train.loop import Trainer

    if args.resume:
        return _resume(args)
    if not args.data_dir or not args.out:
        raise StarposeError("--data-dir and --out are required (or --resume RUN_DIR)")
    config = train_config(args)
    check_output_path(args.out, folder=True)
    if Path(args.out, "last.pt").exists():
        raise StarposeError(f"{args.out}: already holds a run; use --resume {args.out} or another --out")
    _fit(Trainer(config))
    return 0


def _resume(args: argparse.Namespace) -> int:
    from starpose.commands.train_resume import check_target, finished_message, resume_config
    from starpose.train.loop import Trainer

    trainer = Trainer(resume_config(args), resume=True)
    check_target(args.resume, trainer.epoch, trainer.config.epochs)
    if trainer.finished:
        print(finished_message(args.resume, trainer.epoch, trainer.config.epochs))
        return 0
    _fit(trainer)
    return 0


def _fit(trainer) -> None:
    try:
        trainer.fit()
    except KeyboardInterrupt:
        if trainer.dist.is_main:  # under torchrun, one hint rather than one per process
            print(f"continue with: starpose train --resume {trainer.out}", file=sys.stderr)
        raise
