"""The readers: each format written as its detector does, read back to the same H36M joints."""
import json
import os

import numpy as np
import pytest

from starpose.errors import StarposeError
from starpose.formats import detect_format, load_keypoints, read_coco_json
from tests.keypoint_writers import (
    DIRECT,
    H,
    W,
    fake_motion,
    load_one,
    midpoints_in_2d,
    source_points,
    triplets,
    write_coco_frames,
    write_coco_results,
    write_mediapipe_csv,
    write_mediapipe_json,
    write_npy,
    write_openpose_dir,
    write_videopose3d,
)


@pytest.fixture(scope="module")
def motion():
    return fake_motion(40, seed=1)[1]


@pytest.mark.parametrize(
    "kind, writer, kwargs, tol",
    [
        ("coco", lambda p, xy: write_coco_results(p / "det.json", xy), {}, 1e-6),
        ("coco", lambda p, xy: write_coco_frames(p / "frames.json", xy), {}, 1e-6),
        ("mediapipe", lambda p, xy: write_mediapipe_json(p / "mp.json", xy), {"width": W, "height": H}, 1e-6),
        ("mediapipe", lambda p, xy: write_mediapipe_csv(p / "mp.csv", xy), {"width": W, "height": H}, 1e-6),
        ("mediapipe", lambda p, xy: write_mediapipe_csv(p / "wide.csv", xy, wide=True), {"width": W, "height": H}, 1e-6),
        ("openpose", lambda p, xy: write_openpose_dir(p / "op", xy), {"width": W, "height": H}, 1e-6),
        ("openpose", lambda p, xy: write_openpose_dir(p / "op", xy, unpadded=True), {"width": W, "height": H}, 1e-6),
        ("videopose3d", lambda p, xy: write_videopose3d(p / "data_2d_custom_x.npz", {"walk.mp4": xy}), {}, 1e-3),
        ("h36m", lambda p, xy: write_npy(p / "kp.npy", xy), {"width": W, "height": H}, 1e-3),
    ],
)
def test_every_format_is_detected_and_converts_back_to_h36m(tmp_path, motion, kind, writer, kwargs, tol):
    path = writer(tmp_path, motion)
    assert detect_format(path) == kind
    kp = load_one(path, **kwargs)
    assert kp.source_format == kind
    assert kp.xy.shape == (40, 17, 2) and kp.xy.dtype == np.float32
    assert kp.confidence.shape == (40, 17) and kp.confidence.min() >= 0 and kp.confidence.max() <= 1
    assert (kp.width, kp.height) == (W, H)
    # Direct joints land in H36M order exactly; the derived ones follow the documented rules.
    np.testing.assert_allclose(kp.xy[:, DIRECT], motion[:, DIRECT], atol=tol * 1000)
    expected = motion if kind == "h36m" else midpoints_in_2d(motion)
    np.testing.assert_allclose(kp.xy, expected, atol=tol * 1000)
    assert not kp.filled.any() and not kp.notes


def test_videopose3d_file_with_several_videos_gives_one_sequence_each(tmp_path, motion):
    path = write_videopose3d(tmp_path / "data_2d_custom_two.npz", {"a.mp4": motion, "b.mp4": motion[:25]})
    seqs = load_keypoints(path)
    assert [s.name for s in seqs] == ["a.mp4", "b.mp4"]
    assert [s.num_frames for s in seqs] == [40, 25]


def test_videopose3d_hostile_pickle_is_refused(tmp_path):
    class Evil:
        def __reduce__(self):
            return (os.system, ("echo pwned",))

    path = tmp_path / "data_2d_custom_evil.npz"
    np.savez(path, positions_2d=np.array(Evil(), dtype=object), metadata=np.array({}, dtype=object))
    with pytest.raises(StarposeError, match="forbidden|refused"):
        load_keypoints(path)



def test_coco_annotation_file_orders_frames_by_image_and_reads_visibility_flags(tmp_path, motion):
    pts = source_points(motion[:5], "coco")
    flags = np.full(17, 2.0)
    flags[9] = 0  # not labelled: left wrist
    ids = [397133, 37777, 252219, 87038, 174482]  # COCO-like image ids, unrelated to time
    images = [{"id": i, "file_name": f"frame_{t:04d}.jpg", "width": W, "height": H}
              for t, i in reversed(list(enumerate(ids)))]
    anns = [{"image_id": i, "keypoints": triplets(p, flags)} for i, p in zip(ids, pts) if i != 252219]
    path = tmp_path / "gt.json"
    path.write_text(json.dumps({"images": images, "annotations": anns}))
    kp = read_coco_json(path)[0]
    assert kp.num_frames == 5 and (kp.width, kp.height) == (W, H)
    np.testing.assert_allclose(kp.xy[[0, 1, 3, 4]][:, DIRECT], motion[[0, 1, 3, 4]][:, DIRECT], atol=1e-3)
    assert (kp.confidence[2] == 0).all()  # no annotation for that image: no person
    assert kp.confidence[0, 13] == 0 and kp.confidence[0, 16] == 1



def test_mediapipe_needs_the_image_size(tmp_path, motion):
    path = write_mediapipe_json(tmp_path / "mp.json", motion)
    with pytest.raises(StarposeError, match="image width and height"):
        load_keypoints(path)


def test_image_size_is_required_where_the_file_lacks_it(tmp_path, motion):
    path = write_coco_results(tmp_path / "nosize.json", motion, with_size=False)
    with pytest.raises(StarposeError, match="nosize.json.*width and height"):
        load_keypoints(path)
    assert load_one(path, width=640, height=480).width == 640


def test_openpose_wrong_joint_count_and_single_file(tmp_path, motion):
    folder = write_openpose_dir(tmp_path / "op", motion[:3])
    one = next(folder.iterdir())
    with pytest.raises(StarposeError, match="pass the folder"):
        detect_format(one)
    data = json.loads(one.read_text())
    data["people"][0]["pose_keypoints_2d"] = [1.0] * 54  # COCO-18 model output
    one.write_text(json.dumps(data))
    with pytest.raises(StarposeError, match="expected 25 BODY_25 keypoints"):
        load_keypoints(folder, width=W, height=H)


def test_openpose_undetected_points_are_zero_confidence(tmp_path, motion):
    folder = write_openpose_dir(tmp_path / "op", motion[:6])
    file = sorted(folder.iterdir())[2]
    data = json.loads(file.read_text())
    values = data["people"][0]["pose_keypoints_2d"]
    values[4 * 3 : 4 * 3 + 3] = [0.0, 0.0, 0.0]  # right wrist undetected
    file.write_text(json.dumps(data))
    kp = load_one(folder, width=W, height=H)
    assert kp.filled[2, 16] and kp.filled.sum() == 1
    np.testing.assert_allclose(kp.xy[2, 16], (motion[1, 16] + motion[3, 16]) / 2, atol=1e-3)


def test_pickled_npy_is_refused(tmp_path):
    path = tmp_path / "obj.npy"
    np.save(path, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(StarposeError, match="obj.npy"):
        load_keypoints(path, width=W, height=H)
