"""``starpose synth/train/evaluate --dataset 3dhp`` end to end on the tiny synthetic set."""
import json


from starpose.cli import main


def test_synth_train_evaluate_3dhp(tmp_path, capsys):
    data, run = tmp_path / "data", tmp_path / "run"
    assert main(["synth", "--dataset", "3dhp", "--out", str(data), "--preset", "tiny"]) == 0
    assert (data / "data_train_3dhp.npz").is_file() and (data / "data_test_3dhp.npz").is_file()
    assert main(["train", "--dataset", "3dhp", "--data-dir", str(data), "--out", str(run),
                 "--preset", "star-mixste-27", "--epochs", "1", "--batch-size", "16",
                 "--max-batches-per-epoch", "3", "--subjects-train", "S1",
                 "--subjects-test", "TS1,TS5", "--device", "cpu"]) == 0
    out = tmp_path / "eval.json"
    assert main(["evaluate", "--dataset", "3dhp", "--data-dir", str(data), "--checkpoint",
                 str(run / "best.pt"), "--json", str(out)]) == 0
    saved = json.loads(out.read_text())
    assert saved["dataset"] == "3dhp"
    result = saved["tables"]
    assert list(result["sequences"]) == [f"TS{k}" for k in range(1, 7)]
    assert {"overall", "scenes", "activities"} <= set(result)
    assert "| **Overall** |" in capsys.readouterr().out
