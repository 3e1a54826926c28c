"""Every default stated once (issue 21): the command line reads the library's defaults, one
default dataset, one recipe type, one format table, benchmark sizes from the presets."""
import argparse
import ast
import dataclasses
from pathlib import Path

import pytest

from starpose.bench import inference as bench_inference
from starpose.bench import run as bench_run
from starpose.cli import build_parser
from starpose.commands.train import train_config
from starpose.datasets.registry import DEFAULT_DATASET
from starpose.formats import table
from starpose.models.presets import PRESETS, get_preset
from starpose.train.config import TrainConfig
from starpose.train.recipes import BUNDLED, SIZE_RECIPES, Recipe, preset_recipe

SRC = Path(__file__).resolve().parents[1] / "src" / "starpose"


def _parser(command: str) -> argparse.ArgumentParser:
    action = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    return action.choices[command]


def test_train_options_default_to_train_configs_fields():
    fields = {f.name: f for f in dataclasses.fields(TrainConfig)}
    named = [a for a in _parser("train")._actions if a.dest in fields]
    assert len(named) >= 20  # the options named as fields, not a handful
    for action in named:
        field = fields[action.dest]
        default = None if field.default is dataclasses.MISSING else field.default
        assert action.default == default, action.dest
    args = build_parser().parse_args(["train", "--data-dir", "d", "--out", "o"])
    assert train_config(args) == TrainConfig(data_dir="d", out="o")


def test_every_train_option_reaches_the_config():
    args = build_parser().parse_args([
        "train", "--data-dir", "d", "--out", "o", "--keypoints", "noisy", "--preset", "mixste-81",
        "--attention", "vanilla", "--drop-path", "0.1", "--frames", "9", "--epochs", "3",
        "--batch-size", "5", "--lr", "0.01", "--lr-decay", "0.5", "--weight-decay", "0.2",
        "--loss", "plain", "--no-flip-augment", "--subjects-train", "S1", "--subjects-test", "S9",
        "--actions", "Walking", "--max-batches-per-epoch", "7", "--val-stride", "2", "--seed", "4",
        "--device", "cpu", "--amp", "bf16", "--compile", "--checkpoint-every", "6", "--log-every", "8",
        "--no-progress", "--dataset", "humaneva"])
    config = train_config(args)
    assert config == TrainConfig(
        data_dir="d", out="o", keypoints="noisy", preset="mixste-81", attention="vanilla",
        model_overrides={"drop_path_rate": 0.1, "num_frames": 9}, epochs=3, batch_size=5, lr=0.01,
        lr_decay=0.5, weight_decay=0.2, loss_mode="plain", flip_augment=False, subjects_train=("S1",),
        subjects_test=("S9",), actions=("Walking",), max_batches_per_epoch=7, val_stride=2, seed=4,
        device="cpu", amp="bf16", compile=True, checkpoint_every=6, log_every=8, progress=False,
        dataset="humaneva")


def test_train_help_shows_the_recipe_defaults(capsys):
    with pytest.raises(SystemExit):
        build_parser().parse_args(["train", "--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    for option, setting in (("--epochs", "epochs"), ("--batch-size", "batch_size"), ("--lr", "lr")):
        text = help_text.split(f"{option} {option.lstrip('-').upper().replace('-', '_')} ", 1)[1]
        default = text.split("(default: ", 1)[1].split(")", 1)[0]
        assert default.startswith("the preset's recipe"), option
        assert f"27 frames: {SIZE_RECIPES[27].train[setting]:g}" in default, option


def test_the_default_dataset_is_stated_once():
    """No ``dataset`` parameter, field or ``--dataset`` option spells a default other than
    through DEFAULT_DATASET."""
    literal = []
    for path in SRC.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.arguments):
                args = node.args[len(node.args) - len(node.defaults):] + node.kwonlyargs
                defaults = node.defaults + node.kw_defaults
                literal += [f"{path.name}: {a.arg}" for a, d in zip(args, defaults)
                            if "dataset" in a.arg and isinstance(d, ast.Constant) and isinstance(d.value, str)]
            elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) \
                    and node.target.id == "dataset" and isinstance(getattr(node.value, "value", None), str):
                literal.append(f"{path.name}: field {node.target.id}")
            elif isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "add_argument" \
                    and any(isinstance(a, ast.Constant) and a.value == "--dataset" for a in node.args):
                literal += [f"{path.name}: --dataset" for k in node.keywords
                            if k.arg == "default" and isinstance(getattr(k.value, "value", None), str)]
    assert literal == []
    assert TrainConfig.__dataclass_fields__["dataset"].default == DEFAULT_DATASET
    for command in ("synth", "train", "evaluate"):
        dataset = next(a for a in _parser(command)._actions if a.dest == "dataset")
        assert dataset.default == DEFAULT_DATASET, command


def test_one_recipe_type_for_sizes_and_named_recipes():
    public = [f"{p.relative_to(SRC)}: {n.name}" for p in SRC.rglob("*.py")
              for n in ast.walk(ast.parse(p.read_text()))
              if isinstance(n, ast.ClassDef) and n.name.endswith("Recipe") and not n.name.startswith("_")]
    assert public == ["train/recipes.py: Recipe"]
    assert isinstance(BUNDLED, Recipe) and all(isinstance(r, Recipe) for r in SIZE_RECIPES.values())
    for name in PRESETS:  # every preset trains with a size recipe
        assert set(preset_recipe(name).train) == {"lr", "batch_size", "epochs"}, name


def test_formats_titles_and_readers_come_from_one_table():
    assert table.FORMATS == tuple(table.TABLE) == tuple(table.READERS) == tuple(table.FORMAT_TITLES)
    assert all(table.READERS[n] is f.read and table.FORMAT_TITLES[n] == f.title for n, f in table.TABLE.items())
    fmt = next(a for a in _parser("lift")._actions if a.dest == "fmt")
    assert tuple(fmt.choices) == ("auto", *table.TABLE)


def test_benchmark_sizes_come_from_presets():
    small, paper = bench_run.CONFIGS["small"], bench_run.CONFIGS["paper"]
    for config, name in ((small, "mixste-27"), (paper, "mixste-243")):
        model = get_preset(name).model
        assert (config.frames, config.dim, config.depth, config.heads) == (
            model.num_frames, model.dim, model.depth, model.num_heads)
        assert config.batch == preset_recipe(name).train["batch_size"]
    # the inference rows' small size is the 81-frame preset's width on 27 frames
    infer = bench_inference.INFER_CONFIGS["small"]
    wide = get_preset("mixste-81").model
    assert (infer.frames, infer.dim, infer.depth, infer.heads) == (27, wide.dim, wide.depth, wide.num_heads)
    sizes = [s for p in SRC.joinpath("bench").rglob("*.py") for s in ast.walk(ast.parse(p.read_text()))
             if isinstance(s, ast.Call) and getattr(s.func, "id", "") in ("BenchConfig", "InferConfig", "ModelSize")
             and len(s.args) > 1]  # BenchConfig(**spec) rebuilds a size sent to a subprocess
    assert sizes == [], "a benchmark size written out instead of taken from a preset"
