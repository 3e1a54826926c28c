"""The joint mapping: every H36M joint from existing points of each layout, the head rule."""
import numpy as np
import pytest

from starpose.formats import (
    COCO_NAMES,
    LAYOUTS,
    MEDIAPIPE_NAMES,
    OPENPOSE_NAMES,
    AnyOf,
    convert_to_h36m,
)
from tests.keypoint_writers import H36M, fake_motion, midpoints_in_2d, source_points


def test_mapping_tables_cover_h36m_and_use_existing_points():
    for layout, (names, table) in LAYOUTS.items():
        assert set(table) == set(H36M), layout
        for joint, terms in table.items():
            assert sum(w for w, _ in terms) == pytest.approx(1.0), (layout, joint)
            for _, group in terms:
                assert set(group) <= set(names), (layout, joint, group)
    assert len(COCO_NAMES) == 17 and len(MEDIAPIPE_NAMES) == 33 and len(OPENPOSE_NAMES) == 25
    assert isinstance(LAYOUTS["coco"][1]["Head"][0][1], AnyOf)



@pytest.mark.parametrize("layout", ["coco", "mediapipe", "openpose"])
def test_every_layout_converts_back_to_the_h36m_joints(layout):
    xy = fake_motion(12, seed=4)[1]
    points = source_points(xy, layout)
    out_xy, out_conf = convert_to_h36m(points, np.full(points.shape[:2], 0.9), layout)
    assert out_xy.shape == (12, 17, 2) and out_conf.shape == (12, 17)
    np.testing.assert_allclose(out_xy, midpoints_in_2d(xy), atol=1e-3)
    np.testing.assert_allclose(out_conf, 0.9)


def test_head_uses_the_confident_face_points_only():
    """A head seen in profile (one ear hidden) is placed from the visible face points alone."""
    xy = fake_motion(3, seed=5)[1]
    points = source_points(xy, "coco")
    conf = np.full(points.shape[:2], 0.9)
    left_ear = COCO_NAMES.index("left_ear")
    shifted = points.copy()
    shifted[:, left_ear] += 400.0  # garbage where the detector is unsure
    conf[:, left_ear] = 0.05
    head = H36M.index("Head")
    ok_xy, ok_conf = convert_to_h36m(points, np.full(points.shape[:2], 0.9), "coco")
    out_xy, out_conf = convert_to_h36m(shifted, conf, "coco")
    # Without the left ear the face centre moves by a few pixels; averaging the unsure ear in
    # would move the head by 150 px.
    assert np.abs(out_xy[:, head] - ok_xy[:, head]).max() < 20.0
    assert out_conf[:, head] == pytest.approx(0.9)  # the best member's confidence
