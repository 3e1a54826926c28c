"""torch's thread count: one per idle core unless given (``--threads``) or set in the environment."""
from __future__ import annotations

import subprocess
import sys

import pytest
import torch

from starpose.cli import main
from starpose.inference import threads


@pytest.mark.parametrize("busy, expected", [(0.0, 4), (0.2, 4), (0.3, 3), (1.0, 3), (1.2, 3), (1.3, 2),
                                            (3.9, 1), (8.0, 1)])
def test_threads_are_the_cores_other_processes_leave_idle(busy, expected):
    assert threads.idle_threads(4, busy) == expected


def test_auto_measures_the_busy_cores_and_a_count_or_the_environment_wins(monkeypatch):
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setattr(threads, "usable_cores", lambda: 2)
    monkeypatch.setattr(threads, "busy_cores", lambda: 1.0)  # one busy neighbour on 2 cores
    assert threads.choose_threads() == threads.ThreadChoice(1, 2, 1.0, "auto")
    monkeypatch.setattr(threads, "busy_cores", lambda: 0.05)
    assert threads.choose_threads().threads == 2
    assert threads.choose_threads(3) == threads.ThreadChoice(3, 2, None, "given")
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    assert threads.choose_threads() == threads.ThreadChoice(1, 2, None, "environment")


def test_the_busy_cores_are_measured_from_proc_stat(monkeypatch):
    ticks = iter([(100.0, 400.0), (250.0, 600.0)])  # 150 of 200 jiffies busy on 2 cores
    monkeypatch.setattr(threads, "_cpu_times", lambda cpus: next(ticks))
    monkeypatch.setattr(threads.time, "sleep", lambda s: None)
    monkeypatch.setattr(threads.os, "sched_getaffinity", lambda pid: {0, 1})
    assert threads.busy_cores() == pytest.approx(1.5)
    monkeypatch.undo()
    busy = threads.busy_cores(0.05)  # the real file: a share of the usable cores
    assert busy is None or 0 <= busy <= threads.usable_cores()


@pytest.mark.parametrize("command", ["train", "lift", "demo", "evaluate"])
def test_threads_is_in_the_help_with_its_default(command):
    text = subprocess.run([sys.executable, "-m", "starpose.cli", command, "--help"], capture_output=True,
                          text=True, check=True).stdout
    option = text[text.index("--threads N|auto  "):]
    assert "(default: auto)" in " ".join(option.split()[:60])


def test_the_command_line_applies_the_count(tmp_path):
    before = torch.get_num_threads()
    try:
        assert main(["evaluate", "--checkpoint", str(tmp_path / "absent.pt"), "--data-dir", str(tmp_path),
                     "--threads", "3"]) == 2  # the count is applied before the command runs
        assert torch.get_num_threads() == 3
    finally:
        torch.set_num_threads(before)
