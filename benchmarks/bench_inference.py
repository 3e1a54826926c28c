"""CPU inference, side by side in one process: the published MixSTE forward (its line-by-line
transcription in ``tests/reference_mixste.py``) against starpose's ``model.eval()`` under
``torch.inference_mode()`` with the reference kernel and with ``auto`` (the inference kernel),
and ONNX Runtime when installed. Rounds interleave the variants so that load on a shared
machine hits them alike; the median per variant is printed in frames/s with the ratio to the
published code.

    python benchmarks/bench_inference.py                      # small: 27 frames, dim 128, depth 4, batch 16
    python benchmarks/bench_inference.py --frames 243 --dim 512 --depth 8 --batch 2 --rounds 3
"""
import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from reference_mixste import reference_forward  # noqa: E402

from starpose.models import MixSTE  # noqa: E402
from starpose.models.checkpoints import starpose_to_published  # noqa: E402


def variants(model, x, depth, heads, onnx_dir):
    published = starpose_to_published(model.state_dict(), module_prefix=False)
    out = {"published": lambda: reference_forward(published, x, heads, depth)}
    for kernel in ("reference", "auto"):
        out[f"starpose-{kernel}"] = lambda k=kernel: model.set_attention_kernel(k)(x)
    try:
        from starpose.models.onnx_export import export_onnx
        from starpose.onnx_runtime import OnnxPredictor
        predictor = OnnxPredictor(export_onnx(model, Path(onnx_dir) / "m.onnx"), threads=torch.get_num_threads())
        out["onnxruntime"] = lambda: predictor._run(x.numpy())
    except Exception as err:  # no onnx / onnxruntime: the row is left out
        print(f"onnxruntime row skipped: {err}", file=sys.stderr)
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--frames", type=int, default=27)
    p.add_argument("--dim", type=int, default=128)
    p.add_argument("--depth", type=int, default=4)
    p.add_argument("--heads", type=int, default=8)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--rounds", type=int, default=7)
    p.add_argument("--threads", type=int, default=0)
    a = p.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    for attention in ("star", "vanilla"):
        torch.manual_seed(0)
        model = MixSTE(a.frames, 17, 2, a.dim, a.depth, a.heads, attention=attention).eval()
        x = torch.randn(a.batch, a.frames, 17, 2)
        with tempfile.TemporaryDirectory() as tmp, torch.inference_mode():
            fns = variants(model, x, a.depth, a.heads, tmp)
            times = {name: [] for name in fns}
            for name, fn in fns.items():
                fn()  # warm-up
            for _ in range(a.rounds):
                for name, fn in fns.items():
                    start = time.perf_counter()
                    fn()
                    times[name].append(time.perf_counter() - start)
        base = a.batch * a.frames / statistics.median(times["published"])
        for name, ts in times.items():
            fps = a.batch * a.frames / statistics.median(ts)
            print(f"{attention:8s} {name:18s} {fps:9.0f} fr/s  {fps / base:5.2f}x published", flush=True)


if __name__ == "__main__":
    main()
