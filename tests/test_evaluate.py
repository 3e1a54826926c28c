"""Evaluation: the published counting, the clean protocol, flip averaging, grouping, bad input."""
import json

import numpy as np
import pytest
import torch

from starpose import save_checkpoint
from starpose.cli import main
from starpose.data.flip import flip_pose
from starpose.datasets.h36m.files import load_h36m, select
from starpose.evaluate.protocol import clean_errors, evaluate_model, published_errors
from starpose.inference.predictors import predict_sequence, predict_windows
from starpose.models import MixSTE
from starpose import metrics
from tests.reference_eval import published_evaluation


@pytest.fixture(scope="module")
def test_sequences(tiny_dataset_dir):
    sequences = load_h36m(tiny_dataset_dir, "gt", subjects=["S9", "S11"])
    return select(sequences, actions=["Walking", "Eating", "Sitting"])


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return MixSTE(num_frames=27, dim=32, depth=2, num_heads=4, attention="star").eval()


def test_published_protocol_equals_a_literal_transcription_of_the_published_loop(model, test_sequences):
    ours = evaluate_model(model, test_sequences)["all"]["Average"]
    reference = published_evaluation(model, test_sequences)
    got = np.array([ours[k] for k in ("mpjpe", "p_mpjpe", "n_mpjpe", "mpjve")])
    np.testing.assert_allclose(got, reference, atol=0.01)


def test_actions_are_grouped_by_the_name_before_the_first_space(model, test_sequences):
    table = evaluate_model(model, test_sequences)["all"]
    takes = {s.action for s in test_sequences}
    assert any(" " in t for t in takes)
    assert set(table) == {t.split(" ")[0] for t in takes} | {"Average"}
    by_subject = evaluate_model(model, test_sequences, by_subject=True)
    assert list(by_subject) == ["all", "S9", "S11"] and by_subject["all"] == table


def test_flip_averaging_is_the_mean_with_the_flipped_back_output(model):
    x = torch.randn(3, 27, 17, 2)
    with torch.no_grad():
        expected = 0.5 * (model(x) + flip_pose(model(flip_pose(x))))
    torch.testing.assert_close(predict_windows(model, x, flip=True, batch_size=2), expected)
    with torch.no_grad():
        torch.testing.assert_close(predict_windows(model, x, flip=False), model(x))


@pytest.mark.parametrize("length", [1, 26, 27, 28, 60])
def test_predict_sequence_any_length(model, length):
    pred = predict_sequence(model, np.random.default_rng(0).normal(size=(length, 17, 2)).astype(np.float32))
    assert pred.shape == (length, 17, 3)
    assert np.all(pred[:, 0] == 0)


def test_clean_protocol_counts_every_frame_once(model, test_sequences):
    """Clean: every frame once, lifted through overlapping windows (stride F/2) as lift does."""
    seq = next(s for s in test_sequences if s.num_frames % 27)
    pred = predict_sequence(model, seq.keypoints_2d, zero_root=False)
    assert pred.shape == seq.positions_3d.shape
    target = seq.positions_3d.copy()
    target[:, 0] = 0
    clean = evaluate_model(model, [seq], protocol="clean")["all"]["Average"]
    assert clean["mpjpe"] == pytest.approx(1000 * metrics.mpjpe(pred, target), rel=1e-5)
    assert clean["mpjve"] == pytest.approx(1000 * metrics.mean_velocity_error(pred, target), rel=1e-5)
    assert clean["accel_error"] == pytest.approx(1000 * metrics.acceleration_error(pred, target), rel=1e-5)
    published = evaluate_model(model, [seq])["all"]["Average"]
    assert published["mpjpe"] != pytest.approx(clean["mpjpe"], rel=1e-9)  # overlap frames count twice


def _write_checkpoint(tmp_path, **kwargs):
    torch.manual_seed(0)
    cfg = dict(num_frames=27, dim=32, depth=1, num_heads=4) | kwargs
    return save_checkpoint(tmp_path / "model.pt", MixSTE(**cfg))


def test_cli_writes_json_and_prints_the_table(tmp_path, tiny_dataset_dir, capsys):
    ckpt = _write_checkpoint(tmp_path)
    out = tmp_path / "eval.json"
    assert main(["evaluate", "--data-dir", str(tiny_dataset_dir), "--checkpoint", str(ckpt), "--json", str(out),
                 "--actions", "Walking,Eating"]) == 0
    printed = capsys.readouterr().out
    data = json.loads(out.read_text())
    assert data["protocol"] == "published" and data["flip"] is True
    assert f"{data['tables']['all']['Average']['mpjpe']:.2f}" in printed


def test_cli_report_names_the_subjects_and_the_json_what_was_evaluated(tmp_path, tiny_dataset_dir, capsys):
    ckpt = _write_checkpoint(tmp_path)
    common = ["evaluate", "--data-dir", str(tiny_dataset_dir), "--checkpoint", str(ckpt),
              "--actions", "Walking", "--no-flip"]
    assert main(common + ["--subjects", "S11"]) == 0
    printed = capsys.readouterr().out
    assert "### Subject S11 (published protocol)" in printed and "S9" not in printed
    out = tmp_path / "eval.json"
    assert main(common + ["--by-subject", "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    titles = [line for line in printed.splitlines() if line.startswith("### ")]
    assert titles[:3] == ["### Subjects S9, S11 (published protocol)", "### Subject S9 (published protocol)",
                          "### Subject S11 (published protocol)"]
    data = json.loads(out.read_text())
    assert {k: data[k] for k in ("dataset", "keypoints", "subjects", "actions", "protocol", "checkpoint")} == {
        "dataset": "h36m", "keypoints": "gt", "subjects": ["S9", "S11"], "actions": ["Walking"],
        "protocol": "published", "checkpoint": str(ckpt)}
    assert list(data["tables"]) == ["all", "S9", "S11"]
    assert f"| **Average** | {data['tables']['all']['Average']['mpjpe']:.2f} |" in printed
    assert "| S9 |" in printed and "| all |" not in printed  # the subject x action tables


@pytest.mark.parametrize("case", ["joints", "frames", "keypoints", "split", "action", "json-is-dir",
                                  "json-folder", "device"])
def test_cli_bad_input(tmp_path, tiny_dataset_dir, capsys, case):
    ckpt = _write_checkpoint(tmp_path, num_joints=16 if case == "joints" else 17,
                             num_frames=500 if case == "frames" else 27)
    args = ["evaluate", "--data-dir", str(tiny_dataset_dir), "--checkpoint", str(ckpt), "--actions", "Walking"]
    expected = {
        "joints": "16 joints",
        "frames": "windows of 500 frames, but the longest sequence has",
        "keypoints": "available: ",
        "split": "subject(s) S42 (file has: S1, ",
        "action": "unknown action(s) Jogging; the sequences of S9, S11 have: Directions, ",
        "json-is-dir": "is a folder",
        "json-folder": "does not exist",
        "device": "cuda:99: no such CUDA device",
    }[case]
    if case == "keypoints":
        args += ["--keypoints", "nonexistent"]
    if case == "split":
        args += ["--subjects", "S42"]
    if case == "action":
        args += ["--actions", "Walking,Jogging"]
    if case == "json-is-dir":
        args += ["--json", str(tmp_path)]
    if case == "json-folder":
        args += ["--json", str(tmp_path / "missing" / "e.json")]
    if case == "device":
        args += ["--device", "cuda:99"]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert expected in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_short_sequences_and_bad_protocol(model, test_sequences):
    rng = np.random.default_rng(0)
    pred, target = rng.normal(size=(2, 17, 3)), rng.normal(size=(2, 17, 3))
    clean = clean_errors(pred, target)
    assert clean["mpjve"] == pytest.approx(1000 * metrics.mean_velocity_error(pred, target))
    assert np.isnan(clean["accel_error"])  # 2 frames have no acceleration
    assert np.isnan(clean_errors(pred[:1], target[:1])["mpjve"])
    one = published_errors(torch.from_numpy(pred[None, :1]), torch.from_numpy(target[None, :1]))
    assert one["mpjve"] == 0.0 and one["mpjpe"] == pytest.approx(1000 * metrics.mpjpe(pred[:1], target[:1]))
    with pytest.raises(ValueError, match="unknown protocol"):
        evaluate_model(model, test_sequences[:1], protocol="fast")
