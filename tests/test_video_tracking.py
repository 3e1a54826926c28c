"""Tracking on synthetic 2D people (no detector): crossing paths, vanishing and reappearing."""
import numpy as np
import pytest

from starpose.video.tracking import MAX_GAP, Tracker, link_tracks, pair_cost

# A stick figure of 17 COCO joints, ~100 px wide and ~200 px tall around (0, 0).
_SHAPE = np.array([[0, -90], [-5, -95], [5, -95], [-10, -92], [10, -92], [-25, -60], [25, -60],
                   [-35, -20], [35, -20], [-40, 15], [40, 15], [-15, 10], [15, 10], [-15, 55],
                   [15, 55], [-15, 100], [15, 100]], np.float32)


def person(cx, cy, scale=1.0, conf=0.9):
    out = np.empty((17, 3), np.float32)
    out[:, :2] = _SHAPE * scale + (cx, cy)
    out[:, 2] = conf
    return out


def test_pair_cost_is_small_for_the_same_person_and_large_for_another():
    a = person(100, 200)
    assert pair_cost(a, person(104, 201)) < 0.2
    assert pair_cost(a, person(400, 200)) > 1.5


def test_two_people_crossing_keep_their_ids():
    """A walks right, B walks left, they pass each other mid-clip (B is smaller: further away)."""
    frames, per_frame = list(range(40)), []
    for t in frames:
        a, b = person(100 + 10 * t, 300), person(490 - 10 * t, 320, scale=0.7)
        per_frame.append(np.stack([a, b]) if t % 2 else np.stack([b, a]))  # order shuffles
    tracks = link_tracks(frames, per_frame)
    assert len(tracks) == 2
    for track in tracks:
        xs = np.array([k[0, 0] for k in track.keypoints])
        assert len(track.frames) == 40
        steps = np.diff(xs)
        assert np.all(steps > 0) or np.all(steps < 0), "a track switched people at the crossing"


def test_a_gap_of_a_few_frames_is_bridged_and_a_long_one_is_not():
    frames = list(range(60))
    per_frame = []
    for t in frames:
        people = [person(300 + 2 * t, 300)]
        if not (10 <= t < 15 or 25 <= t < 25 + MAX_GAP + 10):  # 5 frames gone, then a long gap
            people.append(person(800 - t, 300))
        per_frame.append(np.stack(people))
    tracks = link_tracks(frames, per_frame)
    assert [t.span for t in tracks] == [(0, 59), (0, 24), (25 + MAX_GAP + 10, 59)]
    bridged = tracks[1]
    assert 12 not in bridged.frames and len(bridged.frames) == 20
    dense, numbers = bridged.dense(np.arange(60))
    assert list(numbers) == list(range(25))
    assert np.isnan(dense[12, :, 0]).all() and (dense[12, :, 2] == 0).all()
    assert np.allclose(dense[20, :, :2], person(780, 300)[:, :2])


def test_vanished_person_reappearing_far_away_is_a_new_track_and_empty_frames_count():
    tracker = Tracker(max_gap=3)
    tracker.update(0, person(100, 100)[None])
    for t in range(1, 3):
        assert tracker.update(t, np.zeros((0, 17, 3))) == []
    (track, _), = tracker.update(3, person(102, 100)[None])
    assert track.id == 1  # within the gap: the same person
    (far, _), = tracker.update(4, person(900, 100)[None])
    assert far.id == 2
    assert [t.id for t in tracker.tracks()] == [1, 2]


def test_min_frames_drops_flickers_and_renumbers():
    frames = list(range(10))
    per_frame = [np.stack([person(100, 100)] + ([person(600, 100)] if t == 4 else []))
                 for t in frames]
    tracks = link_tracks(frames, per_frame, min_frames=3)
    assert [(t.id, t.span) for t in tracks] == [(1, (0, 9))]
    assert abs(tracks[0].mean_confidence() - 0.9) < 1e-6


def test_bench_video_clip_and_table(tmp_path):
    """The benchmark's clip is what its docstring says; its table gives medians and spreads."""
    from starpose.bench.video import FPS, HEIGHT, WIDTH, format_video_table, make_clip
    from starpose.video.reader import open_frames

    with open_frames(make_clip(tmp_path / "b.mp4", frames=3, people=2)) as source:
        frames = list(source)
        assert (source.info.width, source.info.height, source.info.fps) == (WIDTH, HEIGHT, FPS)
    assert [n for n, _ in frames] == [0, 1, 2]

    def run(detect, lift):
        return {"frames": 100, "decode": 1.0, "detect": detect, "track": 0.1, "lift": lift,
                "wall": 1.0 + detect + 0.1 + lift, "render": 2.0, "setup": 0.5, "cpu": 2.0}
    runs = {mode: [run(4.0, 0.5), run(2.0, 0.25), run(5.0, 1.0)] for mode in ("offline", "online", "render")}
    table = format_video_table(runs)
    assert "detector                              25.0  (20.0-50.0)" in table
    assert "lifter (offline windows)             200.0  (100.0-400.0)" in table
    assert "online latency per frame" in table and "46.0 ms" in table  # (4 + 0.1 + 0.5) / 100 s


def test_multi_person_coco_file_is_tracked_with_person_all(tmp_path, capsys):
    """The video tracker also splits a COCO results file holding two people into two tracks."""
    import json

    from starpose.cli import main

    detections = []
    for t in range(30):
        for k, p in enumerate((person(100 + 8 * t, 300), person(560 - 8 * t, 320, scale=0.7))):
            if k == 1 and t >= 25:
                continue  # the second person leaves early
            detections.append({"image_id": 100 + t, "keypoints": p.reshape(-1).tolist()})
    src = tmp_path / "two.json"
    src.write_text(json.dumps({"width": 640, "height": 480, "fps": 30, "annotations": detections}))
    assert main(["lift", str(src), "--person", "all", "--out", str(tmp_path / "res")]) == 0
    with np.load(tmp_path / "res" / "two_track1.npz") as one, \
            np.load(tmp_path / "res" / "two_track2.npz") as two:
        assert list(one["frame_index"]) == list(range(100, 130))
        assert list(two["frame_index"]) == list(range(100, 125))
        assert np.all(np.diff(one["keypoints_2d"][:, 0, 0]) > 0)  # walks right all along
        assert np.all(np.diff(two["keypoints_2d"][:, 0, 0]) < 0)  # walks left all along
        assert float(one["fps"]) == 30.0
    assert main(["lift", str(src), "--person", "2", "--out", str(tmp_path / "p2.npz")]) == 0
    with np.load(tmp_path / "p2.npz") as two:
        assert len(two["frame_index"]) == 25
    capsys.readouterr()
    assert main(["lift", str(src), "--person", "5", "--out", str(tmp_path / "p5.npz")]) == 2
    assert "person 5 asked for, but there are 2 track(s)" in capsys.readouterr().err
    assert not (tmp_path / "p5.npz").exists()


_COCO_TO_BODY25 = (0, 16, 15, 18, 17, 5, 2, 6, 3, 7, 4, 12, 9, 13, 10, 14, 11)


def _body25(coco):
    out = np.zeros((25, 3), np.float32)  # feet (19-24) undetected: (0, 0, 0)
    out[list(_COCO_TO_BODY25)] = coco
    out[1] = (coco[5] + coco[6]) / 2  # neck
    out[8] = (coco[11] + coco[12]) / 2  # mid hip
    return out


def test_multi_person_openpose_folder_is_tracked(tmp_path, capsys):
    import json

    from starpose.cli import main

    folder = tmp_path / "op"
    folder.mkdir()
    for t in range(20):
        people = [_body25(person(150 + 6 * t, 300)), _body25(person(500 - 6 * t, 300, scale=0.8))]
        people = people if t % 3 else people[::-1]  # the file's order says nothing
        (folder / f"clip_{t:012d}_keypoints.json").write_text(json.dumps(
            {"people": [{"pose_keypoints_2d": p.reshape(-1).tolist()} for p in people]}))
    assert main(["lift", str(folder), "--person", "all", "--width", "640", "--height", "480",
                 "--out", str(tmp_path / "res")]) == 0
    starts = []
    for k in (1, 2):
        with np.load(tmp_path / "res" / f"op_track{k}.npz") as result:
            assert list(result["frame_index"]) == list(range(20))
            steps = np.diff(result["keypoints_2d"][:, 0, 0])
            assert np.all(steps > 0) or np.all(steps < 0)
            starts.append(result["keypoints_2d"][0, 0, 0])
    assert sorted(starts) == pytest.approx([150, 500], abs=15)
