"""Progress of training as plain lines, for logs that are not a terminal (batch jobs, ``nohup``).

Without a progress bar a run would print nothing until the end of an epoch, which on the full
dataset takes an hour; :class:`StepLog` prints ``epoch E step S/T  loss L  F frames/s`` every
``every`` steps instead, flushed so that ``tail -f`` shows it at once. :func:`start_line` is
the first line of a run, printed before the first step: what it trains, and where a resumed run
continues.
"""
from __future__ import annotations


class StepLog:
    """Call :meth:`step` after every optimiser step; it prints every ``every``-th one."""

    def __init__(self, every: int, total: int, enabled: bool = True):
        self.every, self.total, self.enabled = every, total, enabled and every > 0

    def line(self, epoch: int, step: int, loss: float, sums: dict) -> str:
        """The text for 1-based step ``step`` of 0-based epoch ``epoch``."""
        fps = sums["frames"] / sums["seconds"] if sums["seconds"] > 0 else 0.0
        return f"epoch {epoch + 1} step {step}/{self.total}  loss {loss:.4f}  {fps:,.0f} frames/s"

    def step(self, epoch: int, step: int, loss: float, sums: dict) -> None:
        if self.enabled and step % self.every == 0:
            print(self.line(epoch, step, loss, sums), flush=True)


def start_line(out, resumed_from: str | None, epoch: int, step: int, steps: int, config,
               windows: int, threads: int, device, plain: bool) -> str:
    """``training runs/x: 3,456 windows, epochs 1-80 of 4 steps (batch 1024), cpu, 2 threads;
    a line every 100 steps``; a resume says where it continues (``resuming runs/x from last.pt
    (epoch 3, step 2): ...``). ``epoch`` (0-based) and ``step`` are the run's position."""
    if resumed_from is None:
        head = f"training {out}"
    else:
        head = f"resuming {out} from {resumed_from}, at step {step + 1} of epoch {epoch + 1}"
    where = f"{device}" + (f", {threads} thread{'s' * (threads > 1)}" if str(device) == "cpu" else "")
    lines = (f"; a line every {config.log_every} steps" if plain and config.log_every > 0 else "")
    return (f"{head}: {windows:,} windows, epochs {epoch + 1}-{config.epochs} of {steps} steps "
            f"(batch {config.batch_size}), {where}{lines}")
