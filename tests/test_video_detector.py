"""The real 2D detectors on a real photograph: BlazePose from the MediaPipe wheel (offline) on
scikit-image's astronaut, one and two people; a YOLO-pose-shaped ONNX model on ONNX Runtime."""
import numpy as np
import pytest
from skimage import data

from starpose.video.blazepose import SinglePose
from starpose.video.choose import open_detector
from starpose.video.detector import COCO17, DetectorError
from starpose.video.people import BlazePosePeople

# Marked by hand on data.astronaut() (512 x 512) from an 8x / 4x zoom with a pixel grid. Her
# shoulders and right elbow are under a bulky suit: the marks are the joint centres as far as
# the suit lets one judge, hence the wider tolerance there. The left elbow is hidden behind the
# helmet she holds.
HAND_MARKED = {"nose": (223, 127), "right_shoulder": (110, 245), "left_shoulder": (312, 260),
               "right_elbow": (55, 425)}
TOLERANCE_PX = {"nose": 6, "right_shoulder": 15, "left_shoulder": 15, "right_elbow": 20}


@pytest.fixture(scope="module")
def astronaut():
    return data.astronaut()


def _check_marks(person):
    for name, (x, y) in HAND_MARKED.items():
        px, py, conf = person[COCO17.index(name)]
        err = float(np.hypot(px - x, py - y))
        assert err <= TOLERANCE_PX[name], f"{name}: {err:.1f} px from the hand-marked position"
        assert conf > 0.5, f"{name} seen with confidence {conf:.2f}"


def test_blazepose_finds_the_hand_marked_joints_of_the_astronaut(astronaut):
    detector = SinglePose(track=False)
    try:
        people = detector.detect(astronaut)
    finally:
        detector.close()
    assert people.shape == (1, 17, 3) and people.dtype == np.float32
    _check_marks(people[0])
    assert people[0, COCO17.index("left_elbow"), 2] < 0.5  # behind the helmet: unsure


def test_two_copies_side_by_side_are_two_people(astronaut):
    frame = np.concatenate([astronaut, astronaut[:, ::-1]], axis=1)  # her mirror image on the right
    detector = open_detector(None, max_people=4)
    try:
        people = detector.detect(frame)
    finally:
        detector.close()
    assert people.shape == (2, 17, 3)
    noses = sorted(people[:, 0, 0])
    assert abs(noses[0] - 223) < 8 and abs(noses[1] - (1023 - 223)) < 8


def test_a_blank_frame_has_nobody(astronaut):
    detector = BlazePosePeople()
    try:
        assert detector.detect(np.zeros_like(astronaut)).shape == (0, 17, 3)
    finally:
        detector.close()


def _drifting_astronaut(frames=45):
    """The benchmark clip's frames (1280 x 720, the astronaut drifting right): with her painted
    out, the helmet and the model rocket beside her looked like a person (0.77) from frame 40."""
    from starpose.bench.video import make_clip

    import av
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as scratch:
        clip = make_clip(Path(scratch) / "c.mp4", frames)
        with av.open(str(clip)) as container:
            return [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]


@pytest.fixture(scope="module")
def drifting():
    return _drifting_astronaut()


def _people_per_frame(frames, **kwargs):
    detector = BlazePosePeople(**kwargs)
    try:
        return [detector.detect(f) for f in frames]
    finally:
        detector.close()


def test_one_person_stays_one_person_no_ghost_beside_the_painted_out_one(drifting):
    counts = [len(p) for p in _people_per_frame(drifting)]
    assert counts == [1] * len(drifting), counts


def test_parallel_graphs_give_the_same_people_as_one_after_another(drifting):
    pair = [np.concatenate([f[:, :640], f[:, :640][:, ::-1]], axis=1) for f in drifting[:24]]
    one = _people_per_frame(pair, workers=1)
    two = _people_per_frame(pair, workers=3)
    assert [len(p) for p in one] == [2] * len(pair)
    for a, b in zip(one, two):
        np.testing.assert_array_equal(a, b)


def _yolo_pose_model(path, size=64, candidates=3):
    """An ONNX model with YOLO-pose's input and output shapes whose output is a fixed tensor:
    candidate 0 a person (score 0.9) at known keypoints, 1 a weaker duplicate, 2 below threshold."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    out = np.zeros((1, 56, candidates), np.float32)
    kp = np.stack([np.linspace(10, 50, 17), np.linspace(5, 60, 17), np.full(17, 0.8)], axis=1)
    for c, score in enumerate((0.9, 0.6, 0.1)):
        out[0, :5, c] = (32, 32, 40, 56, score)
        out[0, 5:, c] = kp.reshape(-1)
    const = numpy_helper.from_array(out, "table")
    # output = table + 0 * mean(images): depends on the input, as a real model does
    nodes = [helper.make_node("ReduceMean", ["images"], ["m"], keepdims=0),
             helper.make_node("Mul", ["m", "zero"], ["z"]),
             helper.make_node("Add", ["table", "z"], ["output0"])]
    graph = helper.make_graph(
        nodes, "yolo_pose_like",
        [helper.make_tensor_value_info("images", TensorProto.FLOAT, [1, 3, size, size])],
        [helper.make_tensor_value_info("output0", TensorProto.FLOAT, [1, 56, candidates])],
        [const, numpy_helper.from_array(np.zeros((), np.float32), "zero")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, path)
    return kp


def test_yolo_pose_onnx_model_keypoints_come_back_in_frame_pixels(tmp_path):
    kp = _yolo_pose_model(tmp_path / "pose.onnx")
    detector = open_detector(str(tmp_path / "pose.onnx"))
    frame = np.zeros((100, 200, 3), np.uint8)  # scale 64/200 = 0.32, padded 16 px top and bottom
    people = detector.detect(frame)
    assert people.shape == (1, 17, 3)  # the duplicate is suppressed, the weak one dropped
    np.testing.assert_allclose(people[0, :, 0], kp[:, 0] / 0.32, rtol=1e-5)
    np.testing.assert_allclose(people[0, :, 1], (kp[:, 1] - 16) / 0.32, rtol=1e-5)
    np.testing.assert_allclose(people[0, :, 2], 0.8, rtol=1e-6)


def test_an_onnx_model_that_is_not_a_pose_model_is_refused_in_one_line(tmp_path):
    import onnx
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [helper.make_node("Flatten", ["x"], ["y"])], "classifier",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1000])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 1000])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, tmp_path / "classifier.onnx")
    with pytest.raises(DetectorError, match="not a YOLO-pose model") as err:
        open_detector(str(tmp_path / "classifier.onnx"))
    assert "\n" not in str(err.value) and "classifier.onnx" in str(err.value)
    (tmp_path / "junk.onnx").write_bytes(b"not a model at all")
    with pytest.raises(DetectorError, match="not an ONNX model"):
        open_detector(str(tmp_path / "junk.onnx"))


def test_a_task_file_that_is_not_a_pose_landmarker_is_refused_in_one_line(tmp_path):
    (tmp_path / "fake.task").write_bytes(b"PK\x05\x06" + b"\0" * 18)  # an empty zip
    with pytest.raises(DetectorError) as err:
        open_detector(str(tmp_path / "fake.task"))
    assert "fake.task" in str(err.value) and "\n" not in str(err.value)


def test_unknown_model_files_are_refused(tmp_path):
    (tmp_path / "model.pt").write_bytes(b"x")
    with pytest.raises(DetectorError, match=r"\.task file or a YOLO-pose \.onnx"):
        open_detector(str(tmp_path / "model.pt"))
    with pytest.raises(DetectorError, match="no such detector model"):
        open_detector(str(tmp_path / "missing.onnx"))
