"""Progress of training as plain lines, for logs that are not a terminal (batch jobs, ``nohup``).

Without a progress bar a run would print nothing until the end of an epoch, which on the full
dataset takes an hour; :class:`StepLog` prints ``epoch E step S/T  loss L  F frames/s`` every
``every`` steps instead, flushed so that ``tail -f`` shows it at once.
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
