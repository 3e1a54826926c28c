"""Every ``starpose ...`` command in the code blocks of README.md and docs/*.md runs as written.

Each document's commands run in order, in a folder of their own that holds small stand-ins for
the files they name (``detections.json``, ``best.pt``, ``cmu/*.bvh``, ``h36m/``, ...), through
``starpose.cli.main`` in this process. To keep it to minutes the work is made small, not the
commands: every model preset is shrunk (width 16, one block, at most 27 frames), the synthetic
Human3.6M ``tiny`` and ``small`` sets have takes of 40-60 frames (HumanEva-I's ``small``
is its ``tiny``), every training run stops after one
epoch of two batches, every animation draws 6 frames and the benchmark's
``small`` inference model is its tiny one. The Python blocks run too; the ONNX Runtime example of docs/lift.md must give
what ``starpose lift --runtime onnx`` gives (the architecture pages' Python is fragments of the
library's code, not examples). Only the commands in :data:`NOT_RUN` are skipped,
each for the reason it gives (the test checks that they are still in the docs, and few).
"""
from __future__ import annotations

import glob
import re
import shlex
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from starpose.cli import main
from starpose.commands import COMMANDS
from tests import keypoint_writers as kw

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]

#: Commands that cannot run here by their nature, with the reason (reviewed; keep it short).
NOT_RUN = {
    "starpose bench": "the whole benchmark, about an hour by design (tests/test_bench.py runs its parts)",
    "starpose bench --quick --json bench.json": "minutes of training rows and 2- and 12-minute "
    "recordings lifted in fresh processes (tests/test_bench.py runs its parts)",
    "starpose bench --inference-only --threads 1 --json bench-inference.json": "about 25 minutes by design",
    "starpose lift clip2d.json --out clip3d.npz": "the stand-in video is a photograph of an astronaut "
    "(upper body): its saved detections have no feet, which a keypoint file refuses; "
    "tests/test_video_lift.py lifts saved detections again (with --min-confidence 0)",
}
_FENCE = re.compile(r"^```(\w*)\s*$")
_COMMAND = re.compile(r"^((?:[A-Z_]+=\S+\s+)*)starpose\s+(\S+)")


def code_blocks(path: Path) -> list[tuple[str, int, str]]:
    """``(language, first line number, text)`` of each fenced block of ``path``."""
    blocks, language, start, lines = [], None, 0, []
    for number, line in enumerate(path.read_text().splitlines(), 1):
        fence = _FENCE.match(line)
        if fence and language is None:
            language, start, lines = fence.group(1) or "text", number + 1, []
        elif line.startswith("```") and language is not None:
            blocks.append((language, start, "\n".join(lines)))
            language = None
        elif language is not None:
            lines.append(line)
    return blocks


def commands(text: str) -> list[str]:
    """The ``starpose COMMAND ...`` lines of a shell block (continuations joined); output lines
    such as ``starpose bench, 2026-11-25: ...`` are not commands."""
    joined = re.sub(r"\\\n\s*", " ", text)
    found = []
    for line in joined.splitlines():
        match = _COMMAND.match(line.strip())
        if match and (match.group(2) in COMMANDS or match.group(2).startswith("--")):
            found.append(line.strip())
    return found


def doc_steps(path: Path) -> list[tuple[str, str]]:
    """``("shell", command)`` and ``("python", code)`` in document order."""
    steps = []
    for language, _, text in code_blocks(path):
        if language == "python" and not path.name.startswith("architecture"):  # those: fragments
            steps.append(("python", text))
        elif language in ("bash", "sh", "shell", "console", "text"):
            steps += [("shell", command) for command in commands(text)]
    return steps


def _without_comment(command: str) -> str:
    return " ".join(shlex.split(command, comments=True))


def test_the_docs_hold_commands_and_the_skipped_ones_are_few_and_still_there():
    every = {_without_comment(c) for path in DOCS for kind, c in doc_steps(path) if kind == "shell"}
    assert len(every) > 40
    assert len(NOT_RUN) <= 4
    assert set(NOT_RUN) <= every, set(NOT_RUN) - every


# -- the stand-ins ------------------------------------------------------------------------------


@pytest.fixture
def small_work(monkeypatch):
    """Small presets, tiny synthetic sets for ``small``, one epoch of two batches per run."""
    from starpose.datasets.h36m import synthetic as h36m_synth
    from starpose.datasets.humaneva import synthetic as he_synth
    from starpose.models import presets
    from starpose.train import loop

    for name, preset in list(presets.PRESETS.items()):
        model = replace(preset.model, dim=16, depth=1, num_heads=2, num_frames=min(preset.model.num_frames, 27))
        monkeypatch.setitem(presets.PRESETS, name, replace(preset, model=model))
    for name in ("tiny", "small"):  # takes of 40-60 frames: windows of 27 still fit
        monkeypatch.setitem(h36m_synth.PRESETS, name, (40, 60))
    monkeypatch.setitem(he_synth.PRESETS, "small", he_synth.PRESETS["tiny"])  # chunks need its length
    from starpose.bench import inference as bench_inference
    from starpose.viz import animation

    monkeypatch.setitem(bench_inference.INFER_CONFIGS, "small", bench_inference.TINY_INFER)

    render = animation.render_animation
    monkeypatch.setattr(animation, "render_animation",  # every animation: its first 6 frames
                        lambda *a, **k: render(*a, **{**k, "limit": 6, "downsample": 1}))
    original = loop.Trainer.__init__

    def short(self, config, *args, **kwargs):
        config = replace(config, epochs=1, max_batches_per_epoch=2,
                         val_stride=max(config.val_stride or 1, 16))
        original(self, config, *args, **kwargs)

    monkeypatch.setattr(loop.Trainer, "__init__", short)
    torch.set_num_threads(1)


def _checkpoint(path: Path, joints: int = 17, **kw_model) -> Path:
    from starpose.models.checkpoints import save_checkpoint
    from starpose.models.mixste import MixSTE

    torch.manual_seed(0)
    model = MixSTE(num_frames=27, num_joints=joints, dim=16, depth=1, num_heads=2, **kw_model).eval()
    path.parent.mkdir(parents=True, exist_ok=True)
    dataset = "humaneva" if joints == 15 else "h36m"
    return save_checkpoint(path, model, train_config={"dataset": dataset})


def _published_15(path: Path) -> Path:
    """A published-layout HumanEva-I checkpoint: weights only, 15 joints, vanilla, 8 heads."""
    from starpose.models.checkpoints import starpose_to_published
    from starpose.models.mixste import MixSTE

    model = MixSTE(num_frames=27, num_joints=15, dim=16, depth=1, num_heads=8, attention="vanilla")
    torch.save({"model_pos": starpose_to_published(model.state_dict())}, path)
    return path


def _bvh_clips(folder: Path, count: int, scale: float) -> None:
    from tests.test_mocap_bvh import make_bvh
    from tests.test_mocap_import import _walk

    folder.mkdir(parents=True, exist_ok=True)
    for k in range(count):
        motion = _walk(60, k)
        motion["Hips"][:, :3] *= scale
        (folder / f"walk_{k + 1:02d}.bvh").write_text(make_bvh(motion, frames=60, frame_time=0.02, scale=scale))


def _synthetic_h36m(folder: Path, keypoints_name: str) -> None:
    from starpose.datasets.h36m.synthetic import generate_dataset

    generate_dataset(folder, "tiny", 0)
    data = folder / "data_2d_h36m_noisy.npz"
    (folder / f"data_2d_h36m_{keypoints_name}.npz").write_bytes(data.read_bytes())


def make_stand_ins(folder: Path, text: str) -> None:
    """The input files the document's commands name, small."""
    xy = kw.fake_motion(60)[1]
    kw.write_coco_results(folder / "detections.json", xy, with_size=False)  # a detector's results list
    kw.write_coco_results(folder / "clip1.json", xy, with_size=False)
    kw.write_openpose_dir(folder / "openpose_clip", xy)
    kw.write_openpose_dir(folder / "openpose_clip2", xy)
    kw.write_videopose3d(folder / "data_2d_custom_myvideos.npz", {"a.mp4": xy, "b.mp4": xy[:40]})
    np.save(folder / "keypoints.npy", kw.fake_motion(100)[1].astype(np.float32))
    np.save(folder / "walk15.npy", np.random.default_rng(0).uniform(100, 500, (60, 15, 2)).astype(np.float32))
    for name in ("best.pt", "mixste.pt"):
        _checkpoint(folder / name)
    _published_15(folder / "mixste_humaneva15.bin")
    assert main(["export", str(folder / "best.pt"), str(folder / "published.bin"), "--to", "mixste"]) == 0
    assert main(["lift", str(folder / "detections.json"), "--checkpoint", str(folder / "best.pt"), "--out",
                 str(folder / "walk3d.npz"), "--width", "1920", "--height", "1080", "--fps", "50"]) == 0
    np.savez(folder / "gt.npz", positions_3d=np.load(folder / "walk3d.npz")["positions_3d"] + 0.01)
    if "cmu/" in text:
        _bvh_clips(folder / "cmu", 7, 0.45 / 2.54)  # CMU units
    if "clips/" in text:
        _bvh_clips(folder / "clips", 7, 1.0)  # one per subject of `--subjects S1,...,S11`
    if "runs/he27/best.pt" in text and "--out runs/he27" not in text:  # trained in README.md
        _checkpoint(folder / "runs" / "he27" / "best.pt", joints=15)
    if "h36m/" in text:
        _synthetic_h36m(folder / "h36m", "cpn_ft_h36m_dbb")
    if "data/mine" in text and "--out data/mine" not in text:  # made by `mocap import` elsewhere
        _synthetic_h36m(folder / "data" / "mine", "noisy")
    if "bundled-v1.pt" in text:  # the first bundled model's weights, from the git history
        _checkpoint(folder / "bundled-v1.pt")
    if "lift clip.mp4" in text:  # videos: the real detector on short clips of a photograph
        from PIL import Image

        from tests.video_clips import astronaut_frame, make_clip

        make_clip(folder / "clip.mp4", frames=12, people=2)  # `--person 2` picks the second
        if "clip.mov" in text:
            make_clip(folder / "clip.mov", frames=8)
            make_clip(folder / "other.webm", frames=8)
            (folder / "frames_folder").mkdir()
            for k in range(8):
                Image.fromarray(astronaut_frame(k)).save(folder / "frames_folder" / f"{k:04d}.png")
    if "lift walk.json" in text:
        kw.write_coco_results(folder / "walk.json", xy, with_size=False)
    if "lift clip.json" in text:
        kw.write_coco_results(folder / "clip.json", xy, with_size=True)
    if "lift walk.npy" in text:
        np.save(folder / "walk.npy", xy.astype(np.float32))


# -- running them -------------------------------------------------------------------------------


def run_shell(command: str, monkeypatch) -> int:
    """A documented command line: ``VAR=value`` prefixes set, globs expanded, then ``main``."""
    words = shlex.split(command, comments=True)
    while "=" in words[0] and words[0].split("=")[0].isupper():
        name, value = words.pop(0).split("=", 1)
        monkeypatch.setenv(name, value)
    argv = [item for word in words[1:] for item in (sorted(glob.glob(word)) if "*" in word else [word])]
    return main(argv)


def check_onnx_example(namespace: dict, folder: Path) -> None:
    """The docs' ONNX Runtime example gives what ``starpose lift --runtime onnx`` gives."""
    frames = namespace["frames"]
    out = folder / "lifted.npz"
    assert main(["lift", "keypoints.npy", "--runtime", "onnx", "--model", "model.onnx", "--out", str(out),
                 "--width", "1000", "--height", "1002", "--stride", str(frames)]) == 0
    expected = np.load(out)["positions_3d"]
    assert namespace["poses"].shape == expected.shape
    np.testing.assert_allclose(namespace["poses"], expected, atol=1e-5)


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_every_documented_command_runs(doc, tmp_path, monkeypatch, capsys, small_work):
    steps = doc_steps(doc)
    if not steps:
        return  # a document without commands (the architecture pages)
    monkeypatch.chdir(tmp_path)
    make_stand_ins(tmp_path, doc.read_text())
    if "--init-from bundled " in doc.read_text():  # the bundled weights do not fit the shrunk presets:
        from starpose.models import checkpoints  # a stand-in of the shrunk star-mixste-27 takes their place

        monkeypatch.setattr(checkpoints, "verified_weights", lambda: _checkpoint(tmp_path / "bundled-stand-in.pt"))
    ran = 0
    for kind, step in steps:
        if kind == "python":
            namespace: dict = {}
            exec(compile(step, f"{doc.name} (python block)", "exec"), namespace)  # noqa: S102 - our docs
            if "onnxruntime" in step:
                check_onnx_example(namespace, tmp_path)
            ran += 1
            continue
        if _without_comment(step) in NOT_RUN:
            continue
        capsys.readouterr()
        code = run_shell(step, monkeypatch)
        err = capsys.readouterr().err
        assert code == 0, f"{doc.name}: `{step}` exited {code}: {err.strip()[-600:]}"
        ran += 1
    assert ran > 0
