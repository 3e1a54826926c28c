"""ONNX export and ONNX Runtime: parity with PyTorch on random inputs and a synthetic sequence
(max abs difference < 1e-4 m), the metadata, the export command, and the bad inputs (a file
that is not a starpose export, an opset the exporter cannot write, onnxruntime missing)."""
import sys

import numpy as np
import pytest
import torch

from starpose.cli import main
from starpose.data.cameras import normalize_screen_coordinates
from starpose.datasets.h36m.synthetic import generate_arrays
from starpose.data.windows import eval_windows
from starpose.errors import DataError, StarposeError
from starpose.inference.predictors import predict_windows
from starpose.models import MixSTE
from starpose.models.checkpoints import save_checkpoint
from starpose.models.onnx_export import MAX_OPSET, export_onnx

pytest.importorskip("onnxruntime", reason="needs starpose[onnx]")
from starpose.inference.onnx_runtime import INSTALL_HINT, OnnxPredictor  # noqa: E402

FRAMES = 9


def _model(attention: str) -> MixSTE:
    torch.manual_seed(0)
    model = MixSTE(num_frames=FRAMES, dim=32, depth=2, num_heads=4, attention=attention).eval()
    with torch.no_grad():  # non-zero position embeddings, as after training
        model.spatial_pos_embed.normal_(std=0.2)
        model.temporal_pos_embed.normal_(std=0.2)
    return model


def _synthetic_windows() -> np.ndarray:
    arrays = generate_arrays("tiny", seed=0)
    take = next(iter(arrays["noisy"]["S9"].values()))[0]  # (T, 17, 2) pixels, camera 0
    return eval_windows(normalize_screen_coordinates(take, 1000, 1002).astype(np.float32), FRAMES)


@pytest.mark.parametrize("flip", [False, True], ids=["numpy-flip", "graph-flip"])
@pytest.mark.parametrize("attention", ["star", "vanilla"])
def test_onnx_runtime_matches_pytorch_on_random_and_synthetic_inputs(attention, flip, tmp_path):
    model = _model(attention)
    path = export_onnx(model, tmp_path / "m.onnx", flip=flip, metadata={"dataset": "h36m"})
    predictor = OnnxPredictor(path)
    assert (predictor.frames, predictor.num_joints, predictor.flip_in_graph) == (FRAMES, 17, flip)
    random = np.random.default_rng(1).normal(size=(5, FRAMES, 17, 2)).astype(np.float32)
    for windows in (random, _synthetic_windows()[:24]):
        expected = predict_windows(model, torch.from_numpy(windows), flip=True).numpy()
        got = predictor(windows)
        assert got.shape == windows.shape[:3] + (3,)
        assert np.abs(got - expected).max() < 1e-4


@pytest.mark.parametrize("flip", [False, True], ids=["numpy-flip", "graph-flip"])
def test_a_view_model_turns_to_the_person_inside_the_graph(flip, tmp_path):
    torch.manual_seed(0)
    model = MixSTE(num_frames=FRAMES, dim=32, depth=2, num_heads=4, input_norm="view").eval()
    path = export_onnx(model, tmp_path / "view.onnx", flip=flip, metadata={"dataset": "h36m"})
    predictor = OnnxPredictor(path)
    assert predictor.input_norm == "view"
    rng = np.random.default_rng(2)  # rays of people anywhere in a wide picture
    rays = (rng.normal(0, 0.15, (6, 1, 17, 2)) + rng.uniform(-0.6, 0.6, (6, 1, 1, 2))
            + rng.normal(0, 0.01, (6, FRAMES, 17, 2))).astype(np.float32)
    expected = predict_windows(model, torch.from_numpy(rays), flip=True).numpy()
    assert np.abs(predictor(rays) - expected).max() < 1e-4


@pytest.mark.parametrize("flip", [False, True], ids=["numpy-flip", "graph-flip"])
def test_a_humaneva_export_flips_with_its_15_joint_pairs_and_lifts(flip, tmp_path, capsys):
    from starpose.datasets.registry import get_dataset

    skeleton = get_dataset("humaneva").skeleton
    torch.manual_seed(0)
    model = MixSTE(num_frames=FRAMES, num_joints=15, dim=32, depth=1, num_heads=4).eval()
    ckpt = save_checkpoint(tmp_path / "he.pt", model, train_config={"dataset": "humaneva"})
    path = tmp_path / "he.onnx"
    assert main(["export", str(ckpt), str(path), "--to", "onnx", *(["--flip"] if flip else [])]) == 0
    predictor = OnnxPredictor(path)
    assert predictor.metadata["dataset"] == "humaneva" and predictor.flip_permutation == skeleton.flip_permutation
    windows = np.random.default_rng(2).normal(size=(3, FRAMES, 15, 2)).astype(np.float32)
    expected = predict_windows(model, torch.from_numpy(windows), flip=True, skeleton=skeleton).numpy()
    assert np.abs(predictor(windows) - expected).max() < 1e-4
    np.save(tmp_path / "k.npy", np.random.default_rng(3).uniform(0, 640, size=(20, 15, 2)))
    assert main(["lift", str(tmp_path / "k.npy"), "--runtime", "onnx", "--model", str(path),
                 "--out", str(tmp_path / "k3d.npz"), "--width", "640", "--height", "480"]) == 0
    assert np.load(tmp_path / "k3d.npz")["positions_3d"].shape == (20, 15, 3)


def test_the_file_carries_the_metadata_and_a_dynamic_batch(tmp_path):
    import onnx

    path = export_onnx(_model("star"), tmp_path / "m.onnx", opset=MAX_OPSET, metadata={"dataset": "h36m"})
    proto = onnx.load(str(path))
    props = {p.key: p.value for p in proto.metadata_props}
    assert props["joints"] == "17" and props["frames"] == str(FRAMES) and props["dataset"] == "h36m"
    assert props["starpose_version"] and props["attention"] == "star"
    assert proto.opset_import[0].version == MAX_OPSET
    dims = proto.graph.input[0].type.tensor_type.shape.dim
    assert dims[0].dim_param == "batch" and [d.dim_value for d in dims[1:]] == [FRAMES, 17, 2]


def test_export_command_writes_onnx_and_refuses_bad_opsets_and_frames(tmp_path, capsys):
    ckpt = save_checkpoint(tmp_path / "m.pt", _model("vanilla"))
    out = tmp_path / "m.onnx"
    assert main(["export", str(ckpt), str(out), "--to", "onnx", "--flip"]) == 0
    assert OnnxPredictor(out).flip_in_graph
    bad = tmp_path / "bad.onnx"
    for extra in (["--opset", "99"], ["--frames", "27"]):
        assert main(["export", str(ckpt), str(bad), "--to", "onnx", *extra]) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and ("opset 99" in err or "27" in err)
        assert not bad.exists()


def test_a_file_that_is_not_a_starpose_export_is_refused_in_one_line(tmp_path):
    import onnx
    from onnx import TensorProto, helper

    with pytest.raises(DataError, match="no such ONNX file"):
        OnnxPredictor(tmp_path / "missing.onnx")
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"not a protobuf at all")
    with pytest.raises(DataError, match="junk.onnx: not a readable ONNX file"):
        OnnxPredictor(junk)
    # A valid ONNX graph without starpose's metadata, then one with it but a wrong input shape.
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 5, 17, 2])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 5, 17, 2])
    graph = helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], "g", [x], [y])
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    proto.ir_version = 8
    foreign = tmp_path / "foreign.onnx"
    onnx.save(proto, str(foreign))
    with pytest.raises(DataError, match="not a starpose ONNX export .no starpose_version"):
        OnnxPredictor(foreign)
    helper.set_model_props(proto, {"starpose_version": "0.1.0", "joints": "17", "frames": "9",
                                   "flip_in_graph": "0", "flip_permutation": "0"})
    onnx.save(proto, str(foreign))
    with pytest.raises(DataError, match=r"input shape \['batch', 5, 17, 2\], expected \[batch, 9, 17, 2\]"):
        OnnxPredictor(foreign)


def test_without_onnxruntime_the_error_is_the_install_hint(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # makes `import onnxruntime` fail
    with pytest.raises(StarposeError) as err:
        OnnxPredictor(tmp_path / "m.onnx")
    assert str(err.value) == INSTALL_HINT and "starpose[onnx]" in INSTALL_HINT


def test_the_bundled_box_input_model_lifts_the_same_through_onnx_runtime(tmp_path):
    """The bundled model normalises its input per sequence (box): the export records it and the
    ONNX Runtime path applies it, so `lift --runtime onnx` gives torch's poses."""
    import numpy as np

    from starpose.cli import main

    rng = np.random.default_rng(0)
    walk = tmp_path / "walk.npy"
    base = rng.uniform(300, 700, (1, 17, 2))
    np.save(walk, (base + np.cumsum(rng.normal(0, 2, (60, 17, 2)), axis=0)).astype(np.float32))
    model = tmp_path / "bundled.onnx"
    assert main(["export", "bundled", str(model), "--to", "onnx", "--flip"]) == 0
    outs = {}
    for runtime, extra in (("torch", []), ("onnx", ["--model", str(model)])):
        out = tmp_path / f"{runtime}.npz"
        assert main(["lift", str(walk), "--out", str(out), "--width", "1920", "--height", "1080",
                     "--no-world", "--runtime", runtime, *extra]) == 0
        outs[runtime] = np.load(out)["positions_3d"]
    assert outs["torch"].shape == (60, 17, 3)
    np.testing.assert_allclose(outs["onnx"], outs["torch"], atol=1e-5)
