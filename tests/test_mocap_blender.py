"""A real client: Blender (the ``bpy`` module) imports the exported BVH, and its bones sit
where starpose put the joints, its rest pose is the T-pose and the root carries the trajectory.

Blender runs in its own Python (``bpy`` pins numpy < 2, so ``make test`` installs it in a
separate environment, ``.venv-blender``): ``STARPOSE_BLENDER_PYTHON`` names that interpreter
(the Makefile sets it); without it the test looks for ``.venv-blender`` and then for a
``blender`` program. Where the variable is set, a Blender that does not run fails the test.
"""
import json
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from starpose.mocap.export import bone_lengths, camera_to_bvh, rest_positions, write_bvh
from starpose.mocap.rig_bones import bone_names, joint_rows
from tests.test_mocap_export import rigid_motion

ROOT = Path(__file__).resolve().parents[1]
FRAMES = (1, 17, 40)

SCRIPT = """
import json, sys
import bpy
bvh, out = sys.argv[sys.argv.index("--") + 1:]
bpy.ops.import_anim.bvh(filepath=bvh, axis_forward="-Z", axis_up="Y", global_scale=1.0,
                        rotate_mode="NATIVE", use_fps_scale=False)
arm = next(o for o in bpy.context.scene.objects if o.type == "ARMATURE")
heads = {"rest": {b.name: list(arm.matrix_world @ b.head_local) for b in arm.data.bones}}
for frame in FRAMES:
    bpy.context.scene.frame_set(frame)
    heads[frame] = {b.name: list(arm.matrix_world @ b.head) for b in arm.pose.bones}
heads["fps"] = bpy.context.scene.render.fps
json.dump(heads, open(out, "w"))
""".replace("FRAMES", repr(FRAMES))


def _blender_command() -> list[str] | None:
    python = os.environ.get("STARPOSE_BLENDER_PYTHON")
    if python:
        return [python]
    local = ROOT / ".venv-blender" / "bin" / "python"
    if local.exists():
        return [str(local)]
    if shutil.which("blender"):
        return ["blender", "-b", "--factory-startup", "--python-exit-code", "1", "--python"]
    return None


def _to_blender(points: np.ndarray) -> np.ndarray:
    """BVH world (y up) -> Blender's z-up world: (x, y, z) -> (x, -z, y)."""
    return np.stack([points[..., 0], -points[..., 2], points[..., 1]], axis=-1)


@pytest.mark.skipif(_blender_command() is None,
                    reason="no Blender: `make test` installs bpy in .venv-blender")
@pytest.mark.parametrize("naming", ["starpose", "mixamo"])
def test_blender_puts_the_bones_where_starpose_put_the_joints(tmp_path, naming):
    positions = rigid_motion(40, seed=2)  # walks 2 m along x and turns twice
    write_bvh(tmp_path / "walk.bvh", positions, fps=50, naming=naming)
    (tmp_path / "dump.py").write_text(SCRIPT)
    done = subprocess.run([*_blender_command(), str(tmp_path / "dump.py"), "--",
                           str(tmp_path / "walk.bvh"), str(tmp_path / "heads.json")],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    heads = json.loads((tmp_path / "heads.json").read_text())
    names = [bone_names(naming)[row] for row in joint_rows()]
    world = camera_to_bvh(positions)
    for frame in FRAMES:
        got = np.array([heads[str(frame)][name] for name in names])
        error = np.linalg.norm(got - _to_blender(world[frame - 1]), axis=-1)
        assert error.max() < 1e-3, (frame, error.max())
    # The rest pose is the T-pose with the median bone lengths, standing on the floor.
    rest = rest_positions(bone_lengths(world))
    rest[:, 1] -= min(rest[3, 1], rest[6, 1])
    got = np.array([heads["rest"][name] for name in names])
    assert np.linalg.norm(got - _to_blender(rest), axis=-1).max() < 1e-4
    # Root motion: the pelvis travels the walk's 2 m over the 40 frames.
    hip = np.array([heads[str(f)][names[0]] for f in FRAMES])
    assert hip[-1, 0] - hip[0, 0] == pytest.approx(world[39, 0, 0] - world[0, 0, 0], abs=1e-3)
    assert world[39, 0, 0] - world[0, 0, 0] > 1.9


def test_the_makefile_installs_the_bpy_of_the_blender_extra():
    import re
    import tomllib

    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    pin = re.search(r"^BPY_PIN \?= (\S+)$", (ROOT / "Makefile").read_text(), re.M).group(1)
    assert extras["blender"][0].split(";")[0].strip() == pin
    assert "$(BLENDER_STAMP)" in re.search(r"^test: .*$", (ROOT / "Makefile").read_text(), re.M).group(0)
