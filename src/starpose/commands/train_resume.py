"""``starpose train --resume RUN``: which other options a resume applies and which it refuses.

A resume continues the run that RUN/config.json describes. Options that do not change what is
learned are applied: ``--epochs`` (raise the target; the learning-rate schedule continues from
where it stopped), ``--device``, ``--progress``/``--no-progress``, ``--checkpoint-every`` and
``--log-every``. Any other option that differs from its default would silently change the run,
so it is refused with a message. A finished run without a higher ``--epochs`` says so and how to
train further, and writes nothing.
"""
from __future__ import annotations

import argparse
from dataclasses import replace

from starpose.errors import StarposeError

#: option dest -> TrainConfig field, applied to a resumed run.
APPLIED = {"epochs": "epochs", "device": "device", "progress": "progress",
           "checkpoint_every": "checkpoint_every", "log_every": "log_every"}
NOT_OPTIONS = {"command", "func", "resume", "option_defaults", "threads", "apply_threads"}


def refused_options(args: argparse.Namespace) -> list[str]:
    """The ``--flags`` given (different from their defaults) that a resume cannot apply."""
    defaults = args.option_defaults
    return [f"--{dest.replace('_', '-')}" for dest, value in vars(args).items()
            if dest not in APPLIED and dest not in NOT_OPTIONS and value != defaults.get(dest)]


def resume_config(args: argparse.Namespace):
    """The run's config with the applicable options of ``args``; refuses the others."""
    from starpose.train.config import config_from_run

    refused = refused_options(args)
    if refused:
        raise StarposeError(f"{args.resume}: a resumed run keeps its settings; {', '.join(refused)} "
                            f"cannot be changed (allowed with --resume: "
                            f"{', '.join('--' + d.replace('_', '-') for d in APPLIED)}); "
                            f"start a new run with --out to change them")
    config = replace(config_from_run(args.resume), out=args.resume)
    applied = {field: getattr(args, dest) for dest, field in APPLIED.items()
               if getattr(args, dest, None) is not None and getattr(args, dest) != args.option_defaults.get(dest)}
    return replace(config, **applied)


def finished_message(run: str, done: int, target: int) -> str:
    return (f"{run}: the run is finished ({done} of {target} epochs); nothing to do. "
            f"To train further, raise the target: starpose train --resume {run} --epochs {done + max(target // 2, 1)} "
            f"(any number above {done}; the learning-rate schedule continues)")


def check_target(run: str, done: int, target: int) -> None:
    """Refuse an ``--epochs`` below the epochs already trained."""
    if target < done:
        raise StarposeError(f"{run}: {done} epochs are already trained; --epochs must be at least {done}, got {target}")
