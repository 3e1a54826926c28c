"""The synthetic Human3.6M: formats, physical plausibility, determinism and the CLI."""
import numpy as np
import pytest

from starpose.cli import main
from starpose.datasets.h36m.layout import h36m_cameras
from starpose.data.safe_pickle import load_npz
from starpose.data.skeleton import H36M_32
from starpose.datasets.h36m.synthetic import ACTIONS, PRESETS, SUBJECTS, generate_arrays

FPS = 50


@pytest.fixture(scope="module")
def files(tiny_dataset_dir):
    return {name: load_npz(tiny_dataset_dir / f"data_{name}.npz")
            for name in ("3d_h36m", "2d_h36m_gt", "2d_h36m_noisy")}


def _takes(files):
    return [(s, a, x) for s, actions in files["3d_h36m"]["positions_3d"].items()
            for a, x in actions.items()]


def test_formats(files):
    p3d = files["3d_h36m"]["positions_3d"]
    assert sorted(p3d) == sorted(SUBJECTS)
    for subject in SUBJECTS:
        expected = sorted([a for a in ACTIONS] + [f"{a} 1" for a in ACTIONS])
        assert sorted(p3d[subject]) == expected
    lo, hi = PRESETS["tiny"]
    for name in ("2d_h36m_gt", "2d_h36m_noisy"):
        assert files[name]["metadata"] == {
            "layout_name": "h36m", "num_joints": 17,
            "keypoints_symmetry": [[4, 5, 6, 11, 12, 13], [1, 2, 3, 14, 15, 16]]}
        for subject, action, x in _takes(files):
            assert x.dtype == np.float32 and x.shape[1:] == (32, 3) and lo <= len(x) <= hi
            views = files[name]["positions_2d"][subject][action]
            assert len(views) == 4
            assert all(v.dtype == np.float32 and v.shape == (len(x), 17, 2) for v in views)


def test_physical_plausibility(files):
    heights = {}
    for subject, action, x in _takes(files):
        assert np.isfinite(x).all()
        bones = np.stack([np.linalg.norm(x[:, j] - x[:, p], axis=-1) for p, j in H36M_32.bones], 1)
        assert (bones.max(0) - bones.min(0)).max() < 1e-3, (subject, action)  # < 1 mm
        speed = np.linalg.norm(np.diff(x, axis=0), axis=-1) * FPS
        assert speed.max() < 10, (subject, action, speed.max())  # m/s
        feet = x[:, [3, 4, 5, 8, 9, 10], 2].min(1)  # lowest foot point per frame
        assert feet.min() > -0.03 and feet.max() < 0.10, (subject, action)
        assert np.abs(x[:, 0, :2]).max() < 2.2  # inside the capture volume
        heights.setdefault(subject, []).append(x[:, 15, 2].max())
        # The clavicle roots sit on the thorax and the shoulders just beside it, as in Human3.6M.
        np.testing.assert_allclose(x[:, [16, 24]], x[:, [13, 13]], atol=1e-5)
        thorax_to_shoulder = np.linalg.norm(x[:, [17, 25]] - x[:, [13]], axis=-1)
        assert 0.1 < thorax_to_shoulder.min() and thorax_to_shoulder.max() < 0.22, (subject, action)
    tallest = {s: max(h) for s, h in heights.items()}
    assert 1.4 < min(tallest.values()) and max(tallest.values()) < 2.0
    assert np.std(list(tallest.values())) > 0.03  # subjects differ
    walking = files["3d_h36m"]["positions_3d"]["S9"]["Walking"]
    travelled = np.linalg.norm(np.diff(walking[:, 0, :2], axis=0), axis=-1).sum() / len(walking)
    assert 0.5 < travelled * FPS < 2.0  # a walking pace, m/s
    sitting = files["3d_h36m"]["positions_3d"]["S9"]["Sitting"]
    assert sitting[:, 0, 2].mean() < walking[:, 0, 2].mean() - 0.2  # the pelvis is lower


def test_joints_are_in_the_images(files):
    cams = h36m_cameras("S1")
    inside = total = 0
    for subject, actions in files["2d_h36m_gt"]["positions_2d"].items():
        for views in actions.values():
            for cam, v in zip(cams, views):
                inside += np.sum((v[..., 0] >= 0) & (v[..., 0] < cam.res_w)
                                 & (v[..., 1] >= 0) & (v[..., 1] < cam.res_h))
                total += v.shape[0] * v.shape[1]
    assert inside / total > 0.99


def test_noisy_keypoints_look_like_a_detector(files):
    errors = []
    for subject, actions in files["2d_h36m_gt"]["positions_2d"].items():
        for action, views in actions.items():
            noisy = files["2d_h36m_noisy"]["positions_2d"][subject][action]
            errors += [np.linalg.norm(n - g, axis=-1).ravel() for g, n in zip(views, noisy)]
    errors = np.concatenate(errors)
    assert 2 < np.median(errors) < 10  # pixels
    assert np.mean(errors > 30) > 1e-4  # gross errors happen...
    assert np.mean(errors > 30) < 0.02  # ...but rarely


def test_deterministic_per_seed(files):
    again = generate_arrays("tiny", seed=0, subjects=("S1", "S11"))
    first = files["3d_h36m"]["positions_3d"]
    for subject in ("S1", "S11"):
        for action in ("Walking 1", "Sitting"):
            np.testing.assert_array_equal(again["3d"][subject][action], first[subject][action])
            np.testing.assert_array_equal(
                again["noisy"][subject][action][3],
                files["2d_h36m_noisy"]["positions_2d"][subject][action][3])
    other = generate_arrays("tiny", seed=1, subjects=("S1",))["3d"]["S1"]["Walking"]
    assert other.shape != first["S1"]["Walking"].shape or not np.allclose(
        other, first["S1"]["Walking"])


def test_h36m_size_preset_is_about_the_real_training_set():
    lo, hi = PRESETS["h36m-size"]
    train_subjects = 5  # S1 S5 S6 S7 S8: about 1.56 M 2D frames in the real Human3.6M
    frames_2d = (lo + hi) / 2 * train_subjects * len(ACTIONS) * 2 * 4
    assert 1.4e6 < frames_2d < 1.7e6


def test_cli_synth(tmp_path, capsys):
    out = tmp_path / "synth"
    assert main(["synth", "--out", str(out), "--preset", "tiny", "--seed", "3"]) == 0
    names = sorted(p.name for p in out.iterdir())
    assert names == ["data_2d_h36m_gt.npz", "data_2d_h36m_noisy.npz", "data_3d_h36m.npz"]
    assert "data_3d_h36m.npz" in capsys.readouterr().out
    blocker = tmp_path / "a_file"
    blocker.write_text("not a directory")
    assert main(["synth", "--out", str(blocker), "--preset", "tiny"]) == 2
    err = capsys.readouterr().err
    assert "a_file" in err and "Traceback" not in err and err.count("\n") == 1


def test_synth_replaces_all_files_or_none(tmp_path, monkeypatch):
    out = tmp_path / "synth"
    out.mkdir()
    for name in ("data_3d_h36m.npz", "data_2d_h36m_gt.npz", "data_2d_h36m_noisy.npz"):
        (out / name).write_text("old")
    import starpose.datasets.h36m.synthetic as synthetic

    from starpose.data.synth import files as synth_files

    real_write, calls = synth_files.write_npz, []

    def failing_write(path, **entries):
        calls.append(path)
        if len(calls) == 3:  # the last file fails
            raise OSError("disk full")
        real_write(path, **entries)

    monkeypatch.setattr(synth_files, "write_npz", failing_write)
    with pytest.raises(OSError):
        synthetic.generate_dataset(out, preset="tiny", seed=0)
    assert sorted(p.name for p in out.iterdir()) == [
        "data_2d_h36m_gt.npz", "data_2d_h36m_noisy.npz", "data_3d_h36m.npz"]  # no temporaries
    assert all(p.read_text() == "old" for p in out.iterdir())


def test_unknown_preset_is_a_programmer_error():
    with pytest.raises(ValueError, match="tiny, small, h36m-size"):
        generate_arrays("huge", 0)


def test_the_h36m_synthetic_set_is_built_from_the_generator_pieces():
    from starpose.data.synth import anthropometry, detector_noise, kinematics, motion
    from starpose.datasets.h36m import synthetic

    assert synthetic.ACTIONS == tuple(motion.ACTION_STYLE) and len(synthetic.ACTIONS) == 15
    assert synthetic.subject_body is anthropometry.subject_body
    assert synthetic.forward_kinematics is kinematics.forward_kinematics
    assert synthetic.detector_noise is detector_noise.detector_noise
