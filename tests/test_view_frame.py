"""The view frame of a ``"view"`` model: rays re-projected into the camera turned to the person,
the output turned back (:mod:`starpose.models.view_frame`)."""
from dataclasses import replace

import numpy as np
import pytest
import torch

from starpose.models.mixste import MixSTE
from starpose.models.presets import get_preset
from starpose.models.view_frame import to_camera, to_view, view_rotation


def _scene(batch=2, frames=27, seed=0):
    """People ``(B, F, 17, 3)`` in camera coordinates, 3-5 m in front, off-axis."""
    rng = np.random.default_rng(seed)
    body = rng.normal(0, 0.3, (batch, 1, 17, 3)) + rng.normal(0, 0.02, (batch, frames, 17, 3))
    place = np.stack([rng.uniform(-1.5, 1.5, batch), rng.uniform(-1, 1, batch), rng.uniform(3, 5, batch)], -1)
    return body + place[:, None, None]


def _project(points):
    return points[..., :2] / points[..., 2:]


def test_the_view_rotation_is_a_rotation_aimed_at_the_person():
    rays = torch.from_numpy(_project(_scene())).float()
    R = view_rotation(rays)
    torch.testing.assert_close(R @ R.transpose(1, 2), torch.eye(3).expand(2, 3, 3), atol=1e-6, rtol=0)
    torch.testing.assert_close(torch.linalg.det(R), torch.ones(2), atol=1e-6, rtol=0)
    # Its optical axis is the mean ray through the box centres; the person is in the middle of the view.
    centre = (rays.amax(2) + rays.amin(2)) / 2
    unit = torch.nn.functional.normalize(torch.cat([centre, torch.ones_like(centre[..., :1])], -1), dim=-1)
    torch.testing.assert_close(R[:, :, 2], torch.nn.functional.normalize(unit.mean(1), dim=-1), atol=1e-6, rtol=0)
    view = to_view(rays, R)
    assert ((view.amax(2) + view.amin(2)) / 2).mean(1).abs().max() < 0.02
    # A person already centred on the optical axis: no turn at all.
    centred = rays - ((rays.amax(2) + rays.amin(2)) / 2)[:, :, None]
    torch.testing.assert_close(view_rotation(centred), torch.eye(3).expand(2, 3, 3), atol=1e-6, rtol=0)


def test_re_projection_is_exact_geometry():
    scene = _scene(seed=1)
    rays = torch.from_numpy(_project(scene))
    R = view_rotation(rays)
    in_view = np.einsum("bij,bfkj->bfki", R.transpose(1, 2).numpy(), scene)  # R^T X
    np.testing.assert_allclose(to_view(rays, R).numpy(), _project(in_view), atol=1e-12)
    np.testing.assert_allclose(to_camera(torch.from_numpy(in_view), R).numpy(), scene, atol=1e-12)


def test_a_view_model_lifts_in_the_view_and_turns_its_output_back():
    torch.manual_seed(0)
    config = get_preset("star-mixste-27").model
    view = MixSTE.from_config(replace(config, input_norm="view")).eval()
    rays_model = MixSTE.from_config(replace(config, input_norm="rays")).eval()
    rays_model.load_state_dict(view.state_dict())  # the same weights: the turn has none
    rays = torch.from_numpy(_project(_scene(seed=2))).float()
    R = view_rotation(rays)
    for grad in (False, True):  # the inference path and the module forward
        with torch.set_grad_enabled(grad):
            out = view(rays)
            expected = to_camera(rays_model(to_view(rays, R)), R)
        torch.testing.assert_close(out, expected, atol=1e-6, rtol=0)


@pytest.mark.parametrize("norm", ["rays", "view"])
def test_lift_gives_view_models_rays(norm):
    from starpose.data.model_input import model_input

    pixels = np.random.default_rng(0).normal(800, 50, (5, 17, 2))
    out = model_input(pixels, norm, (1920, 1080), focal=(1000.0, 1000.0))
    np.testing.assert_allclose(out, (pixels - [960, 540]) / 1000.0, atol=1e-6)
