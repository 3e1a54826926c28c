"""Help texts and small outputs that must match what the commands do; the folders the docs
write into are ignored by git; no test skips itself on a missing option."""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _help(*command: str) -> str:
    text = subprocess.run([sys.executable, "-m", "starpose.cli", *command, "--help"], capture_output=True,
                          text=True, check=True).stdout
    return " ".join(text.split())  # argparse wraps lines where it likes


def test_export_help_names_all_four_layouts():
    text = _help("export")
    for layout in ("--to mixste", "--to starpose", "--to onnx", "--to bundled"):
        assert layout in text.split("positional arguments")[0], layout  # in the description


def test_synth_help_mentions_3dhp():
    text = _help("synth")
    assert "3dhp: MPI-INF-3DHP" in text and "--dataset 3dhp" in text


def test_bench_no_compile_shows_no_default():
    text = _help("bench")
    option = text[text.index("--no-compile no torch.compile"):]
    assert option.startswith("--no-compile no torch.compile rows at all --compile-mode")


def test_info_preset_table_is_aligned():
    from starpose.info import info_lines

    lines = info_lines()
    start = next(i for i, line in enumerate(lines) if line.startswith("preset "))
    table = lines[start:start + 1 + sum(1 for line in lines[start + 1:] if re.match(r"^\S+ +(star|vanilla) ", line))]
    assert len(table) > 8 and any("star-mixste-43-humaneva" in line for line in table)
    columns = {line.index(" star ") if " star " in line else line.index(" vanilla ") for line in table[1:]}
    assert len(columns) == 1 and table[0].index(" attention ") in columns


def test_folders_the_docs_write_into_are_ignored_by_git():
    patterns = [line.strip().rstrip("/") for line in (ROOT / ".gitignore").read_text().splitlines()
                if line.strip() and not line.startswith("#")]
    docs = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    outputs = {m.group(1).split("/")[0] + "/" + m.group(1).split("/")[1] if m.group(1).startswith("data/")
               else m.group(1).split("/")[0]
               for doc in docs for m in re.finditer(r"--out ((?:data|runs)/[\w./-]+)", doc.read_text())}
    assert {"data/3dhp", "data/cmu", "runs"} <= outputs
    for folder in outputs:
        assert any(folder == p or folder.startswith(p + "/") for p in patterns), folder


def test_no_test_skips_itself_on_a_missing_option():
    for path in (ROOT / "tests").glob("test_*.py"):
        text = path.read_text()
        assert not re.search(r"skipif\(not _accepts", text), path
