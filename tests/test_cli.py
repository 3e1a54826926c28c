"""The command line: every command's help, the shared argument types, no torch for ``--help``,
and library errors that name no command-line flag."""
import argparse
import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from starpose.cli import build_parser, main
from starpose.commands import COMMANDS
from starpose.commands.common import (comma_list, decay_factor, device_type, non_negative_int,
                                      positive_float, positive_int, probability)

#: Commands whose parsers are built on starpose.commands.common (lift and render: see their tests).
SHARED_HELP = ("info", "synth", "train", "evaluate", "demo", "export", "mocap", "bench")
SRC = Path(__file__).resolve().parents[1] / "src" / "starpose"


def _subparsers() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


def _usage_error(argv, capsys) -> str:
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return err


@pytest.mark.parametrize("command", COMMANDS)
def test_help_of_every_command_exits_0(command, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main([command, "--help"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.startswith(f"usage: starpose {command}")


@pytest.mark.parametrize("command", SHARED_HELP)
def test_help_shows_defaults_and_examples(command, capsys):
    with pytest.raises(SystemExit):
        main([command, "--help"])
    out = capsys.readouterr().out
    examples = out.split("examples:\n", 1)[1].splitlines()
    assert 2 <= len(examples) <= 3 and all(line.startswith(f"  starpose {command}") for line in examples)
    options_with_defaults = [a for a in _subparsers()[command]._actions
                             if a.option_strings and a.default not in (None, False, argparse.SUPPRESS)]
    compact = "".join(out.split())  # the help wraps lines, also inside a default
    for action in options_with_defaults:
        assert f"(default:{action.default})" in compact, action.dest


def test_the_commands_with_defaults_are_the_expected_ones(capsys):
    """Guards the test above against passing vacuously."""
    parsers = _subparsers()
    with_defaults = {name for name in SHARED_HELP
                     if any(a.option_strings and a.default not in (None, False, argparse.SUPPRESS)
                            for a in parsers[name]._actions)}
    assert with_defaults == set(SHARED_HELP) - {"info", "mocap"}  # mocap: in its subcommands


def test_help_does_not_import_torch():
    script = (
        "import contextlib, io, sys\n"
        "from starpose.cli import build_parser\n"
        f"for argv in [['--help']] + [[c, '--help'] for c in {list(COMMANDS)!r}]:\n"
        "    with contextlib.redirect_stdout(io.StringIO()):\n"
        "        try:\n"
        "            build_parser().parse_args(argv)\n"
        "        except SystemExit as e:\n"
        "            assert e.code == 0, argv\n"
        "print('torch' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"


def test_commands_taking_device_are_found():
    taking = {name for name, p in _subparsers().items()
              if any("--device" in a.option_strings for a in p._actions)}
    assert {"train", "evaluate", "bench"} <= taking


@pytest.mark.parametrize("command", [name for name, p in _subparsers().items()
                                     if any("--device" in a.option_strings for a in p._actions)])
@pytest.mark.parametrize("value", ["cuda:x", "gpu", "cuda:"])
def test_a_malformed_device_is_a_one_line_usage_error(command, value, capsys):
    err = _usage_error([command, "--device", value], capsys)
    errors = [line for line in err.splitlines() if line.startswith(f"starpose {command}: error:")]
    assert len(errors) == 1 and "argument --device" in errors[0] and value in errors[0]


@pytest.mark.parametrize("argv, message", [
    (["train", "--epochs", "0"], "expected a positive integer, got '0'"),
    (["train", "--batch-size", "-4"], "expected a positive integer"),
    (["train", "--val-stride", "0"], "expected a positive integer"),
    (["train", "--max-batches-per-epoch", "x"], "expected a positive integer"),
    (["train", "--lr-decay", "0"], "argument --lr-decay: expected a number in (0, 1]"),
    (["train", "--weight-decay", "-1"], "argument --weight-decay: expected a number >= 0"),
    (["train", "--drop-path", "1"], "argument --drop-path: expected a number in [0, 1)"),
    (["train", "--preset", "mixste-9000"], "argument --preset: unknown preset 'mixste-9000'"),
    (["train", "--seed", "-1"], "expected a non-negative integer"),
    (["evaluate", "--batch-size", "0"], "expected a positive integer"),
    (["evaluate", "--num-heads", "0"], "expected a positive integer"),
    (["evaluate", "--subjects", ","], "expected comma-separated names"),
    (["demo", "--epochs", "0"], "expected a positive integer"),
    (["export", "a.pt", "b.pt", "--to", "mixste", "--num-heads", "0"], "expected a positive integer"),
    (["bench", "--threads", "0"], "expected a positive integer"),
    (["synth", "--out", "x", "--preset", "huge"], "argument --preset: unknown preset 'huge'"),
])
def test_bad_option_values_are_usage_errors(argv, message, capsys):
    assert message in _usage_error(argv, capsys)


def test_argument_types_accept_and_refuse():
    assert [device_type(d) for d in ("auto", "cpu", "cuda", "cuda:0", "cuda:12")] == \
        ["auto", "cpu", "cuda", "cuda:0", "cuda:12"]
    assert positive_int("3") == 3 and non_negative_int("0") == 0 and positive_float("1e-5") == 1e-5
    assert probability("0") == 0 and decay_factor("1") == 1
    assert comma_list(" S9, S11,") == ("S9", "S11")
    refused = [(device_type, "cpu:0"), (device_type, "CUDA"), (positive_int, "1.5"), (positive_float, "inf"),
               (positive_float, "nan"), (probability, "-0.1"), (decay_factor, "1.01"), (non_negative_int, "-1")]
    for parse, text in refused:
        with pytest.raises(argparse.ArgumentTypeError):
            parse(text)


def test_export_reads_the_checkpoint_once(tmp_path, monkeypatch):
    from starpose import MixSTE, save_checkpoint

    save_checkpoint(tmp_path / "m.pt", MixSTE(num_frames=9, dim=16, depth=1, num_heads=2))
    loads = []
    real_load = torch.load
    monkeypatch.setattr(torch, "load", lambda *a, **k: loads.append(a[0]) or real_load(*a, **k))
    assert main(["export", str(tmp_path / "m.pt"), str(tmp_path / "pub.bin"), "--to", "mixste"]) == 0
    assert loads == [tmp_path / "m.pt"]


def _raised_strings(path: Path):
    """``(line, text)`` of every string constant in the exceptions that ``path`` raises."""
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Raise) and node.exc is not None:
            for sub in ast.walk(node.exc):
                if isinstance(sub, ast.Constant) and isinstance(sub.value, str):
                    yield node.lineno, sub.value


def test_library_errors_name_no_command_line_flag():
    library = [p for p in SRC.rglob("*.py") if "commands" not in p.parts]
    assert SRC / "train" / "loop.py" in library
    flagged = [f"{p.relative_to(SRC)}:{line}: {text}" for p in library
               for line, text in _raised_strings(p) if re.search(r"--[a-z]", text)]
    assert flagged == []
