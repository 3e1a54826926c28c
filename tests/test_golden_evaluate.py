"""Behaviour pinned across refactors: `evaluate --json` on the tiny synthetic set with a fixed,
committed checkpoint must give byte-identical JSON to the stored one (made by the code before the
house-plan redesign, issue 21, at commit c76117b; made again when the CPU inference kernel dropped
its softmax pass, issue 26: 157 of its numbers moved, by at most 4.9e-8 relative, 3.6e-5 mm, the
rounding of fp32; and again when the inference path's LayerNorms moved to the compiled kernel,
issue 26: 153 numbers, at most 4.5e-8 relative, 3.3e-5 mm). Both run with one thread: the order of a multi-threaded reduction changes the
last bits of the floats with the thread count."""
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GOLDEN = ROOT / "tests" / "golden"


def test_evaluate_json_is_byte_identical_to_the_stored_one(tiny_dataset_dir, tmp_path):
    out = tmp_path / "result.json"
    subprocess.run([sys.executable, "-m", "starpose.cli", "evaluate", "--data-dir", str(tiny_dataset_dir),
                    "--checkpoint", "tests/golden/tiny-star-9.pt", "--json", str(out), "--by-subject"],
                   cwd=ROOT, check=True, capture_output=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert out.read_bytes() == (GOLDEN / "evaluate-tiny-star-9.json").read_bytes()
