"""Camera robustness: one model on the same synthetic test takes filmed four ways.

The takes are those of the synthetic Human3.6M test subjects (S9, S11; ``synth --preset small``
by default), projected through four camera sets (:data:`CAMERA_SETS`) with the same
detector-like 2D noise (:func:`starpose.data.synth.varied.sized_detector_noise`: noise that
scales with the person's size in pixels, confidence-correlated dropouts, left/right swaps):

* ``h36m``: the subjects' four Human3.6M cameras (1000x1002);
* ``ring``: six fixed room cameras of a ring around the capture volume, 1920x1080, 2.5-6 m away,
  0.4-2.3 m high, ~62 degree field of view (no camera of the set is one of training's);
* ``4k-offcentre``: 3840x2160 (16:9), ~69 degree field of view, 4 m away at 1.5 m, four
  azimuths, the person's centre a quarter of the width from the left;
* ``portrait``: 1080x1920 (9:16), ~69 degree field of view on the long side, close (3.5 m) and
  low (0.8 m), four azimuths, aimed at each take's mean position;
* ``ring-unknown-lens``: the ``ring`` takes lifted as ``starpose lift`` does when nobody gives
  the camera (:data:`~starpose.world.intrinsics.TYPICAL_FOV_DEG` assumed, 70 degrees, where the
  ring's lenses have 62): what a model that takes rays loses to a guessed lens (a box model
  does not use the lens: the same as ``ring``).

Each set is lifted like ``starpose lift`` does (overlapping windows, flip averaging, every
frame once) and scored by MPJPE, P-MPJPE and acceleration error (mm).
"""
from __future__ import annotations

import numpy as np

from starpose.data.cameras import Camera
from starpose.data.skeleton import JOINTS_KEPT_FOR_17
from starpose.datasets.h36m.files import Sequence
from starpose.datasets.h36m.layout import h36m_cameras
from starpose.datasets.mpi_inf_3dhp.studio_cameras import aimed_camera
from starpose.data.synth.cameras import focal_from_fov
from starpose.data.synth.varied import sized_detector_noise

#: The camera sets, in the table's order, with the row titles.
CAMERA_SETS = {
    "h36m": "(a) Human3.6M cameras",
    "ring": "(b) ring of unseen cameras",
    "4k-offcentre": "(c) 16:9 4K, person off-centre",
    "portrait": "(d) 9:16 portrait, close and low",
    "ring-unknown-lens": "(e) as (b), lens unknown (70 deg assumed)",
}
_CENTRE = np.array([0.25, 0.45])  # the synthetic capture volume's centre (data.synth.motion)
#: A set that lifts another set's takes and 2D (the same cameras and noise) with a guessed lens.
_FILMED_AS = {"ring-unknown-lens": "ring"}


def set_cameras(name: str, subject: str, world: np.ndarray) -> list[Camera]:
    """The cameras of set ``name`` for one take ``world`` (T, 17, 3) of ``subject``."""
    if name == "h36m":
        return h36m_cameras(subject)
    if name == "ring":
        return [aimed_camera(f"ring{k}", (1920, 1080), focal_from_fov((1920, 1080), 62.0),
                             np.radians(20 + 60 * k), 2.5 + 0.7 * k,
                             (0.4, 2.3, 1.0, 1.7, 0.7, 2.0)[k], _CENTRE) for k in range(6)]
    mean = world[:, 0, :2].mean(0)
    if name == "4k-offcentre":
        size, focal = (3840, 2160), focal_from_fov((3840, 2160), 69.0)
        return [_offset(aimed_camera(f"4k{k}", size, focal, np.radians(45 + 90 * k), 4.0, 1.5, mean),
                        (0.25, 0.5)) for k in range(4)]
    if name == "portrait":
        size = (1080, 1920)
        return [aimed_camera(f"portrait{k}", size, focal_from_fov(size, 69.0),
                             np.radians(10 + 90 * k), 3.5, 0.8, mean) for k in range(4)]
    raise ValueError(f"unknown camera set {name!r} (choose from {', '.join(CAMERA_SETS)})")


def _offset(camera: Camera, where: tuple[float, float]) -> Camera:
    """``camera`` with its principal point moved so that what it aimed at appears at the image
    fraction ``where`` (x, y) (a crop of a wider sensor: the perspective of an off-centre person)."""
    from dataclasses import replace

    centre = np.array([camera.res_w * where[0], camera.res_h * where[1]])
    return replace(camera, center=centre)


def robustness_sequences(name: str, takes: dict, seed: int = 0) -> list[Sequence]:
    """The sequences of camera set ``name`` for ``takes`` ``{subject: {take: world (T, 32, 3)}}``
    (2D: :func:`sized_detector_noise` of the projections, normalised to screen coordinates as
    every dataset loader gives them)."""
    from starpose.data.synth.anthropometry import stream_key

    filmed_as = _FILMED_AS.get(name, name)
    out = []
    for subject in sorted(takes):
        for take in sorted(takes[subject]):
            world = np.asarray(takes[subject][take])[:, JOINTS_KEPT_FOR_17].astype(np.float64)
            for index, camera in enumerate(set_cameras(filmed_as, subject, world)):
                rng = np.random.default_rng([seed, stream_key(subject), stream_key(take), 6,
                                             list(CAMERA_SETS).index(filmed_as), index])
                pixels = sized_detector_noise(camera.project(world), (camera.res_w, camera.res_h), rng)
                cam = camera.world_to_camera(world).astype(np.float32)
                cam[:, 1:] -= cam[:, :1]
                out.append(Sequence(subject, take, index, camera.normalize(pixels).astype(np.float32),
                                    np.ascontiguousarray(cam),
                                    camera if filmed_as == name else _assumed_lens(camera)))
    return out


def _assumed_lens(camera: Camera) -> Camera:
    """``camera`` as ``starpose lift`` sees one it is not told about: the typical field of view,
    the principal point at the image centre."""
    from dataclasses import replace

    from starpose.world.intrinsics import intrinsics_for

    fx, fy, cx, cy = intrinsics_for((camera.res_w, camera.res_h))
    return replace(camera, focal_length=np.array([fx, fy]), center=np.array([cx, cy]))


def robustness_table(model, takes: dict, seed: int = 0, sets=tuple(CAMERA_SETS), flip: bool = True,
                     batch_size: int = 64, progress: bool = False) -> dict[str, dict[str, float]]:
    """``{set: {"mpjpe", "p_mpjpe", "accel_error", "frames", "ratio"}}`` of ``model`` on every
    camera set (frame-weighted means, mm; ``ratio``: MPJPE over the first set's)."""
    from starpose.evaluate.protocol import clean_sequence_errors

    rows = {}
    for name in sets:
        sequences = robustness_sequences(name, takes, seed)
        if progress:
            print(f"  {CAMERA_SETS[name]}: {len(sequences)} sequences", flush=True)
        results = clean_sequence_errors(model, sequences, flip=flip, batch_size=batch_size)
        weights = np.array([r.weight for r in results], float)
        rows[name] = {key: float(np.average([r.errors[key] for r in results], weights=weights))
                      for key in ("mpjpe", "p_mpjpe", "accel_error")}
        rows[name]["frames"] = int(weights.sum())
    first = rows[next(iter(rows))]["mpjpe"]
    for row in rows.values():
        row["ratio"] = row["mpjpe"] / first
    return rows


def format_robustness(rows: dict, title: str = "") -> str:
    """A Markdown table of :func:`robustness_table`'s rows."""
    lines = ([f"### {title}", ""] if title else []) + [
        "| cameras | frames | MPJPE (mm) | P-MPJPE (mm) | accel. error (mm/frame^2) | MPJPE / (a) |",
        "|---|---:|---:|---:|---:|---:|"]
    for name, row in rows.items():
        lines.append(f"| {CAMERA_SETS[name]} | {row['frames']:,} | {row['mpjpe']:.2f} | "
                     f"{row['p_mpjpe']:.2f} | {row['accel_error']:.2f} | {row['ratio']:.2f} |")
    return "\n".join(lines)


def held_out_takes(data_dir, subjects=("S9", "S11"), stride: int = 1) -> dict:
    """``{subject: {take: world (T, 32, 3)}}`` of the test subjects from a synthetic folder's
    ``data_3d_h36m.npz``; ``stride``: every ``stride``-th take of each subject (sorted by name)."""
    from starpose.data.safe_pickle import load_npz
    from starpose.errors import DataError

    path = __import__("pathlib").Path(data_dir) / "data_3d_h36m.npz"
    poses = load_npz(path).get("positions_3d")
    if not isinstance(poses, dict) or not all(s in poses for s in subjects):
        raise DataError(f"{path}: no 3D poses of subjects {', '.join(subjects)}")
    return {s: {take: poses[s][take] for take in sorted(poses[s])[::stride]} for s in subjects}
