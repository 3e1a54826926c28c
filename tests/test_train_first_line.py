"""`train` says what it does before the first step (also when stdout is not a terminal, where
the first progress line would come after ``--log-every`` steps), and a resume says where it
continues."""
from __future__ import annotations

import re

import pytest

from starpose.cli import main
from starpose.train.log import StepLog
from starpose.train.loop import Trainer
from tests.test_reliability_resume import ARGS, small_preset  # noqa: F401 (the tiny preset fixture)


@pytest.fixture
def printed_before_training(monkeypatch, capsys):
    """What the command had printed when the training loop was entered."""
    seen = []
    original = Trainer._fit

    def spy(self):
        seen.append(capsys.readouterr().out)
        return original(self)

    monkeypatch.setattr(Trainer, "_fit", spy)
    return seen


def test_the_first_line_comes_before_the_first_step(tiny_dataset_dir, tmp_path, printed_before_training):
    out = tmp_path / "run"
    assert main(["train", "--data-dir", str(tiny_dataset_dir), "--out", str(out), "--epochs", "2",
                 "--log-every", "100", "--threads", "1", *ARGS]) == 0
    first = printed_before_training[0]
    assert re.fullmatch(rf"training {re.escape(str(out))}: [\d,]+ windows, epochs 1-2 of 2 steps "
                        r"\(batch 8\), cpu, 1 thread; a line every 100 steps\n", first), first


def test_a_resume_says_from_which_epoch_and_step_it_continues(tiny_dataset_dir, tmp_path, monkeypatch,
                                                              printed_before_training, capsys):
    out = tmp_path / "run"
    original = StepLog.step

    def interrupt_after_first_step(self, epoch, step, loss, sums):
        original(self, epoch, step, loss, sums)
        if epoch == 1 and step == 1:
            raise KeyboardInterrupt  # Ctrl-C after step 1 of epoch 2: last.pt holds that position

    monkeypatch.setattr(StepLog, "step", interrupt_after_first_step)
    assert main(["train", "--data-dir", str(tiny_dataset_dir), "--out", str(out), "--epochs", "3", *ARGS]) == 130
    monkeypatch.setattr(StepLog, "step", original)
    capsys.readouterr()
    assert main(["train", "--resume", str(out)]) == 0
    assert printed_before_training[-1].startswith(
        f"resuming {out} from last.pt (epoch 2, step 1), at step 2 of epoch 2: ")
    assert "epochs 2-3 of 2 steps" in printed_before_training[-1]
    capsys.readouterr()
    assert main(["train", "--resume", str(out), "--epochs", "4"]) == 0
    assert printed_before_training[-1].startswith(
        f"resuming {out} from last.pt (end of epoch 3), at step 1 of epoch 4: ")
