"""What ``starpose lift`` is asked to do (:class:`LiftOptions`), every default stated once here;
the command line reads its defaults from these fields."""
from __future__ import annotations

from dataclasses import dataclass, fields

from starpose.formats.keypoints import DEFAULT_MIN_CONFIDENCE


@dataclass
class LiftOptions:
    """``inputs``: keypoint files or folders; ``out``: a result file (``.npz``/``.json``/``.csv``/
    ``.bvh``) or a folder; ``checkpoint`` None: the bundled model; ``runtime`` ``"onnx"`` lifts with
    the export ``model``; ``width``/``height``/``fps`` override what the files store; ``stride``
    None: half the model's frames; ``dataset`` None: the one the checkpoint records. World
    motion (:mod:`starpose.lift.world`): ``focal_px`` or ``fov`` (degrees) the camera, else the
    typical field of view; ``trajectory`` ``"auto"``, ``"geometric"`` or trajectory weights;
    ``stature`` metres, else the typical one; ``precision`` ``"auto"``, ``"fp32"`` or ``"bf16"``
    (:mod:`starpose.inference.precision`); ``no_foot_lock`` keeps foot sliding; ``no_world``
    writes ``positions_3d`` alone. Videos:
    ``person`` None (all for a video; one person, the most confident, for a keypoint file), ``"all"``
    or a track id; ``save_2d`` the detections' COCO JSON; ``detector_model`` None (the bundled
    BlazePose) or a ``.task``/``.onnx`` file; ``online`` causal lifting; ``max_people`` None (the
    default of :class:`starpose.lift.video.VideoOptions`)."""

    inputs: tuple = ()
    out: str = ""
    checkpoint: str | None = None
    out_format: str | None = None
    fmt: str = "auto"
    width: float | None = None
    height: float | None = None
    fps: float | None = None
    no_flip: bool = False
    min_confidence: float = DEFAULT_MIN_CONFIDENCE
    render: str | None = None
    batch_size: int = 32
    stride: int | None = None
    num_heads: int | None = None
    runtime: str = "torch"
    model: str | None = None
    dataset: str | None = None
    device: str = "auto"
    precision: str = "auto"
    # videos (and, for ``person``, multi-person COCO/OpenPose files): starpose.lift.video
    person: str | int | None = None
    save_2d: str | None = None
    detector_model: str | None = None
    online: bool = False
    max_people: int | None = None
    # world motion (17-joint models): starpose.lift.world
    focal_px: float | None = None
    fov: float | None = None
    trajectory: str = "auto"
    stature: float | None = None
    no_foot_lock: bool = False
    no_world: bool = False


#: Field name -> default.
DEFAULTS = {f.name: f.default for f in fields(LiftOptions)}
