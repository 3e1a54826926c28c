"""What a lifted video leaves behind: one result file per track, the detections as COCO-17 JSON,
and the lines that summarise the tracks and the speed.

One file per track (not a ``track`` axis): each is an ordinary ``starpose lift`` result that every
reader of results takes, with its own frame numbers (tracks span different frames) and a
``track`` entry holding the track's id. ``--out clip3d.npz`` with tracks 1 and 2 writes
``clip3d_track1.npz`` and ``clip3d_track2.npz``; with one track, ``clip3d.npz`` itself; into a
folder, ``<video name>_track<id>.<format>``.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from starpose.errors import StarposeError
from starpose.lift.writers import RESULT_SUFFIXES



def track_outputs(out, video, track_ids: list[int], out_format: str | None = None,
                  several_videos: bool = False) -> list[Path]:
    """The result path of each track of ``video`` (see the module docstring)."""
    out = Path(out)
    is_file = out.suffix.lower() in RESULT_SUFFIXES and not out.is_dir()
    if is_file and several_videos:
        raise StarposeError(f"{out}: several videos give several results; name a folder to "
                            "write them into")
    if out.suffix and not is_file and not out.is_dir():
        raise StarposeError(f"{out}: a video's results are .npz, .json or .csv files, or a folder")
    if is_file:
        if len(track_ids) == 1:
            return [out]
        return [out.with_name(f"{out.stem}_track{k}{out.suffix}") for k in track_ids]
    suffix = f".{out_format or 'npz'}"
    stem = Path(str(video)).stem or "video"
    return [out / f"{stem}_track{k}{suffix}" for k in track_ids]


def write_tracks(lifted, paths: list[Path], stage, world=None) -> None:
    """Write each :class:`~starpose.lift.video.TrackResult` of ``lifted`` to its path (through
    ``stage`` of :func:`starpose.io.atomic_files`); ``world``: ``(WorldOptions, trajectory
    model)`` adds each track's world motion (:func:`starpose.lift.world.add_world`)."""
    from starpose.lift.lifting import result_meta
    from starpose.lift.results import write_result

    for result, path in zip(lifted.results, paths):
        meta = result_meta(result.kp)
        if world is not None:
            from starpose.lift.world import add_world

            meta.update(add_world(result.poses, meta, *world))
        write_result({"positions_3d": result.poses, **meta, "track": result.id}, stage(path))


def coco_json(scan, tracks) -> dict:
    """Every detection of ``scan`` as COCO-17 results (``image_id`` = the frame number,
    ``track_id`` where the detection belongs to one of ``tracks``), with the video's size and
    frame rate, readable by ``starpose lift`` again."""
    owner = {}
    for track in tracks:
        for frame, person in zip(track.frames, track.keypoints):
            owner[(int(frame), np.asarray(person, np.float32).tobytes())] = track.id
    annotations = []
    for frame, people in zip(scan.frames, scan.people):
        for person in np.asarray(people, np.float32):
            entry = {"image_id": int(frame), "category_id": 1,
                     "keypoints": [round(float(v), 2) for v in person.reshape(-1)],
                     "score": round(float(person[:, 2].mean()), 4)}
            track = owner.get((int(frame), person.tobytes()))
            if track is not None:
                entry["track_id"] = track
            annotations.append(entry)
    info = scan.info
    return {"width": info.width, "height": info.height, "fps": info.fps,
            "num_frames": int(len(scan.frames)), "keypoint_names": _coco_names(),
            "annotations": annotations}


def _coco_names() -> list[str]:
    from starpose.video.detector import COCO17

    return list(COCO17)


def write_coco_json(scan, tracks, path: Path) -> None:
    path.write_text(json.dumps(coco_json(scan, tracks)), encoding="utf-8")


def summary_lines(lifted, detector_name: str) -> list[str]:
    """The tracks of a lifted video: count, frame spans, mean confidence."""
    scan, info = lifted.scan, lifted.scan.info
    fps = f"{info.fps:g} frames/s" if info.fps else "no frame rate"
    lines = [f"{lifted.path}: {scan.num_frames:,} frames ({info.width}x{info.height} px, {fps}, "
             f"{info.codec}); detector: {detector_name}",
             f"{len(lifted.results)} track(s) lifted:"]
    for r in lifted.results:
        numbers = r.kp.frame_numbers
        lines.append(f"  track {r.id}: frames {numbers[0]}-{numbers[-1]} ({len(numbers):,} "
                     f"frames), mean confidence {r.mean_confidence:.2f}")
        lines += [f"    {'warning: ' if n.kind.is_warning else ''}{n.text}" for n in r.kp.notes]
    return lines


def speed_line(seconds: dict, frames: int) -> str:
    """Frames/s of each stage and end to end (``seconds``: decode, detect, track, lift, render)."""
    def rate(*keys):
        total = sum(seconds.get(k, 0.0) for k in keys)
        return f"{frames / total:,.1f}" if total > 0 else "-"

    parts = [f"decode {rate('decode')}", f"detector {rate('detect')}",
             f"tracking {rate('track')}", f"lifter {rate('lift')}"]
    if seconds.get("render"):
        parts.append(f"render {rate('render')}")
    end = ("decode", "detect", "track", "lift", "render")
    return f"frames/s: {', '.join(parts)}; end to end {rate(*end)}"
