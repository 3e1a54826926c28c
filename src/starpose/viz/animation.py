"""Skeleton animations: the 2D input beside one 3D panel per pose sequence, as MP4 or GIF.

Frames are drawn on matplotlib's Agg canvas (no display) by moving the existing line artists,
then piped as raw RGB to the ffmpeg binary of ``imageio-ffmpeg`` (``.mp4``) or collected by
Pillow (``.gif``). Output files are written atomically.

Coordinates: 3D poses are in camera coordinates (x right, y down, z forward, as in
Human3.6M). For display they are turned rigidly (no mirroring) into ``(-x, -z, -y)``, so the
vertical axis points up and ``azimuth=90, elevation=0`` looks along the camera's optical axis;
the default ``azimuth=70`` views the subject from slightly to the side of the camera.
"""
from __future__ import annotations

import os
import re
import subprocess
import tempfile
from pathlib import Path
from typing import Mapping, NamedTuple, Sequence

import numpy as np

from starpose.data.skeleton import H36M_17, Skeleton
from starpose.errors import StarposeError
from starpose.viz.plots import atomic_output, new_figure

__all__ = ["render_animation", "read_video_info", "VideoInfo"]

_DPI = 100
_COLOR_LEFT = "tab:blue"
_COLOR_RIGHT = "tab:red"
_COLOR_CENTER = "0.25"
_MIN_GIF_FRAME_MS = 20  # GIF delays are in 1/100 s and viewers slow down anything shorter


class VideoInfo(NamedTuple):
    """What :func:`read_video_info` reads back from a written animation."""

    num_frames: int
    width: int
    height: int


# --------------------------------------------------------------------------- public API


def render_animation(
    keypoints_2d,
    poses_3d: Mapping[str, object],
    out_path: str | os.PathLike,
    fps: float = 50,
    azimuth: float = 70.0,
    elevation: float = 15.0,
    size: float | tuple[int, int] = 3.0,
    limit: int | None = None,
    downsample: int = 1,
    skeleton: Skeleton = H36M_17,
    image_size: tuple[int, int] | None = None,
    root_relative: bool = False,
    world: tuple | None = None,
    frame_numbers=None,
    times=None,
) -> int:
    """Render an animation of 2D keypoints and 3D poses to ``.mp4`` or ``.gif``.

    keypoints_2d: ``(T, J, 2)`` in pixels or normalised screen coordinates (y down), or None to
    show the 3D panels only; poses_3d: ``{title: (T, J, 3)}`` camera-coordinate poses, one panel
    each, e.g. ``{"Prediction": ..., "Ground truth": ...}``. size: panel side in inches at 100
    dpi (3.0 -> 300 px per panel) or the whole frame as ``(width_px, height_px)``. limit: keep at
    most this many input frames; downsample: keep every n-th of those (playback stays real time,
    at ``fps / downsample``). image_size: ``(w, h)`` of the source image, fixing the 2D panel to
    it (otherwise it fits the keypoints). root_relative: centre each 3D pose on joint 0.
    world: ``(joints_world (T, J, 3), contacts (T, 2) or None)`` adds a panel of the world
    motion on its floor (:mod:`starpose.viz.world_view`).
    frame_numbers, times: ``(T,)`` the input's frame number and time (s, NaN where unknown) of
    each frame, shown in the label (otherwise ``frame k/T``). Returns the number of frames written.
    """
    out = Path(out_path)
    kind = out.suffix.lower()
    if kind not in (".mp4", ".gif"):
        raise StarposeError(f"cannot write animation {out}: the extension must be .mp4 or .gif")
    ffmpeg = _ffmpeg_exe() if kind == ".mp4" else None
    if ffmpeg is None and kind == ".mp4":
        raise StarposeError(
            f"cannot write {out}: the ffmpeg binary of 'imageio-ffmpeg' is unavailable; "
            "install imageio-ffmpeg or write a .gif instead"
        )
    kp2d, seqs = _validated_inputs(keypoints_2d, poses_3d, skeleton, root_relative)
    frames = _frame_indices(_sequence_length(kp2d, seqs), limit, downsample)

    scene = _Scene(kp2d, seqs, skeleton, azimuth, elevation, size, image_size, world)
    scene.label = frame_label(frame_numbers, times, scene.num_frames)
    with atomic_output(out) as tmp:
        if kind == ".mp4":
            _write_mp4(scene, frames, tmp, fps / downsample, ffmpeg)
        else:
            _write_gif(scene, frames, tmp, fps / downsample)
    return len(frames)


def read_video_info(path: str | os.PathLike) -> VideoInfo:
    """Frame count and pixel size of a GIF (via Pillow) or MP4 (via a stream-copy ffmpeg pass)."""
    path = Path(path)
    if not path.is_file():
        raise StarposeError(f"video not found: {path}")
    if path.suffix.lower() == ".gif":
        from PIL import Image

        with Image.open(path) as im:
            return VideoInfo(im.n_frames, im.width, im.height)
    return _probe_with_ffmpeg(path)


# --------------------------------------------------------------------------- inputs


def _to_numpy(x) -> np.ndarray:
    if hasattr(x, "detach"):  # torch tensor, possibly on a GPU or requiring grad
        x = x.detach().cpu().numpy()
    return np.asarray(x, dtype=float)


def _validated_inputs(keypoints_2d, poses_3d, skeleton: Skeleton, root_relative: bool):
    num_joints = skeleton.num_joints
    kp2d = None
    if keypoints_2d is not None:
        kp2d = _to_numpy(keypoints_2d)
        if kp2d.ndim != 3 or kp2d.shape[1:] != (num_joints, 2):
            raise StarposeError(f"2D keypoints must have shape (T, {num_joints}, 2), got {kp2d.shape}")
    seqs = {}
    for title, poses in (poses_3d or {}).items():
        arr = _to_numpy(poses)
        if arr.ndim != 3 or arr.shape[1:] != (num_joints, 3):
            raise StarposeError(f"3D poses {title!r} must have shape (T, {num_joints}, 3), got {arr.shape}")
        seqs[str(title)] = arr - arr[:, :1] if root_relative else arr
    if kp2d is None and not seqs:
        raise StarposeError("nothing to render: give 2D keypoints and/or at least one 3D sequence")
    return kp2d, seqs


def _sequence_length(kp2d, seqs: Mapping[str, np.ndarray]) -> int:
    lengths = {name: len(arr) for name, arr in seqs.items()}
    if kp2d is not None:
        lengths["2D keypoints"] = len(kp2d)
    if len(set(lengths.values())) != 1:
        raise StarposeError(f"all sequences must have the same number of frames, got {lengths}")
    return next(iter(lengths.values()))


def _frame_indices(length: int, limit: int | None, downsample: int) -> list[int]:
    if downsample < 1:
        raise StarposeError(f"downsample must be a positive integer, got {downsample}")
    if limit is not None and limit < 1:
        raise StarposeError(f"limit must be a positive number of frames, got {limit}")
    end = length if limit is None else min(length, limit)
    frames = list(range(0, end, downsample))
    if not frames:
        raise StarposeError("nothing to render: the sequences have no frames")
    return frames


def _to_display(poses: np.ndarray) -> np.ndarray:
    """Camera coordinates (x right, y down, z forward) -> display (-x, -z, -y): a rotation."""
    return np.stack([-poses[..., 0], -poses[..., 2], -poses[..., 1]], axis=-1)


# --------------------------------------------------------------------------- the figure


class _Scene:
    """A figure with its artists; :meth:`frame` moves them to frame ``i`` and returns RGB."""

    def __init__(self, kp2d, seqs, skeleton, azimuth, elevation, size, image_size, world=None):
        self.skeleton = skeleton
        self.bones = skeleton.bones
        num_panels = (kp2d is not None) + len(seqs) + (world is not None)
        self.fig, self.pixel_size = _make_figure(num_panels, size)
        self.fig.subplots_adjust(left=0.01, right=0.99, bottom=0.02, top=0.88, wspace=0.05)
        self.kp2d = kp2d
        self.seqs = {name: _to_display(arr) for name, arr in seqs.items()}
        self.num_frames = len(kp2d) if kp2d is not None else len(next(iter(seqs.values())))
        self.panels = []
        column = 1
        if kp2d is not None:
            self.panels.append(self._add_2d_panel(num_panels, column, image_size))
            column += 1
        half_range = _shared_half_range(self.seqs.values())
        for name, disp in self.seqs.items():
            self.panels.append(self._add_3d_panel(num_panels, column, name, disp, half_range,
                                                  azimuth, elevation))
            column += 1
        if world is not None:
            from starpose.viz.world_view import add_world_panel

            self.panels.append(add_world_panel(self.fig, num_panels, column, world[0], world[1],
                                               self.bones, self._bone_colors()))
        self.counter = self.fig.text(0.01, 0.96, "", fontsize=8, va="top")
        self.label = frame_label(None, None, self.num_frames)
        self.fig.text(0.99, 0.01, "blue: left, red: right", fontsize=7, va="bottom", ha="right", color="0.3")

    def _bone_colors(self) -> list[str]:
        left, right = set(self.skeleton.joints_left), set(self.skeleton.joints_right)
        return [_COLOR_LEFT if c in left else _COLOR_RIGHT if c in right else _COLOR_CENTER
                for _, c in self.bones]

    def _add_2d_panel(self, num_panels, column, image_size):
        ax = self.fig.add_subplot(1, num_panels, column)
        ax.set_title("Input 2D", fontsize=10)
        ax.set_aspect("equal")
        (x0, x1), (y0, y1) = _limits_2d(self.kp2d, image_size)
        ax.set_xlim(x0, x1)
        ax.set_ylim(y1, y0)  # image convention: y grows downwards
        ax.set_xticks([])
        ax.set_yticks([])
        lines = [ax.plot([], [], color=c, lw=2)[0] for c in self._bone_colors()]
        dots = ax.plot([], [], "o", color="k", ms=2.5)[0]

        def update(i):
            pose = self.kp2d[i]
            for line, (p, c) in zip(lines, self.bones):
                line.set_data(pose[[p, c], 0], pose[[p, c], 1])
            dots.set_data(pose[:, 0], pose[:, 1])

        return update

    def _add_3d_panel(self, num_panels, column, name, disp, half_range, azimuth, elevation):
        ax = self.fig.add_subplot(1, num_panels, column, projection="3d")
        ax.set_title(name, fontsize=10)
        ax.view_init(elev=elevation, azim=azimuth)
        center = (np.nanmin(disp, axis=(0, 1)) + np.nanmax(disp, axis=(0, 1))) / 2
        ax.set_xlim(center[0] - half_range, center[0] + half_range)
        ax.set_ylim(center[1] - half_range, center[1] + half_range)
        ax.set_zlim(center[2] - half_range, center[2] + half_range)
        ax.set_box_aspect((1, 1, 1), zoom=1.2)  # mplot3d leaves wide margins by default
        # Tick labels would show the negated display axes: hide them, keep the grid for depth cues.
        ax.set_xticklabels([])
        ax.set_yticklabels([])
        ax.set_zticklabels([])
        ax.tick_params(length=0)
        lines = [ax.plot([0, 0], [0, 0], [0, 0], color=c, lw=2)[0] for c in self._bone_colors()]

        def update(i):
            pose = disp[i]
            for line, (p, c) in zip(lines, self.bones):
                line.set_data_3d(pose[[p, c], 0], pose[[p, c], 1], pose[[p, c], 2])

        return update

    def frame(self, i: int) -> np.ndarray:
        """RGB ``(H, W, 3)`` uint8 image of frame ``i``."""
        for update in self.panels:
            update(i)
        self.counter.set_text(self.label(i))
        canvas = self.fig.canvas
        canvas.draw()
        rgb = np.asarray(canvas.buffer_rgba())[..., :3]
        return _fit(rgb, *self.pixel_size)


def frame_label(frame_numbers, times, num_frames: int):
    """``label(i)``: ``frame 1234, 41.13 s`` from the input's numbers and times, else ``frame i+1/T``."""
    numbers = None if frame_numbers is None else np.asarray(frame_numbers)
    seconds = None if times is None else np.asarray(times, dtype=np.float64)

    def label(i: int) -> str:
        text = f"frame {numbers[i]}" if numbers is not None else f"frame {i + 1}/{num_frames}"
        if seconds is not None and np.isfinite(seconds[i]):
            text += f", {seconds[i]:.2f} s"
        return text

    return label


def _make_figure(num_panels: int, size):
    """A figure of ``num_panels`` side by side and its ``(width, height)`` in pixels."""
    if isinstance(size, (tuple, list)):
        width, height = (int(v) for v in size)
        if width < 16 or height < 16:
            raise StarposeError(f"animation size must be at least 16x16 pixels, got {width}x{height}")
    else:
        if not size > 0:
            raise StarposeError(f"animation size must be positive, got {size}")
        width, height = round(size * _DPI * num_panels), round(size * _DPI)
    return new_figure(width / _DPI, height / _DPI, dpi=_DPI), (width, height)


def _fit(rgb: np.ndarray, width: int, height: int) -> np.ndarray:
    """Crop or pad (white) to exactly ``height x width``: float sizes can round by a pixel."""
    if rgb.shape[:2] == (height, width):
        return np.ascontiguousarray(rgb)
    out = np.full((height, width, 3), 255, dtype=np.uint8)
    h, w = min(height, rgb.shape[0]), min(width, rgb.shape[1])
    out[:h, :w] = rgb[:h, :w]
    return out


def _limits_2d(kp2d: np.ndarray, image_size):
    """``((x0, x1), (y0, y1))`` of the 2D panel: the image, or the keypoints plus a margin."""
    if image_size is not None:
        width, height = image_size
        return (0, width), (0, height)
    lo, hi = np.nanmin(kp2d, axis=(0, 1)), np.nanmax(kp2d, axis=(0, 1))
    if not np.all(np.isfinite(lo)):
        return (-1, 1), (-1, 1)
    center, half = (lo + hi) / 2, max(float(np.max(hi - lo)) / 2, 1e-6) * 1.1
    return (center[0] - half, center[0] + half), (center[1] - half, center[1] + half)


def _shared_half_range(seqs) -> float:
    """Half the side of the cube every 3D panel shows: the widest extent over all frames.

    Fixed over the sequence so the view does not wobble, shared so panels compare at one scale.
    """
    half = 0.0
    for disp in seqs:
        extent = np.nanmax(disp, axis=(0, 1)) - np.nanmin(disp, axis=(0, 1))
        if np.all(np.isfinite(extent)):
            half = max(half, float(np.max(extent)) / 2)
    return half * 1.05 if half > 0 else 1.0


# --------------------------------------------------------------------------- writers


def _ffmpeg_exe() -> str | None:
    """Path of the ffmpeg binary shipped with imageio-ffmpeg, or None when there is none."""
    try:
        import imageio_ffmpeg

        return imageio_ffmpeg.get_ffmpeg_exe()
    except (ImportError, RuntimeError, OSError):
        return None


def _write_gif(scene: _Scene, frames: Sequence[int], path: Path, fps: float) -> None:
    from PIL import Image

    # Quantising each frame as it comes keeps memory at one byte per pixel per frame.
    images = [Image.fromarray(scene.frame(i)).quantize(colors=256, method=Image.Quantize.FASTOCTREE)
              for i in frames]
    duration = max(_MIN_GIF_FRAME_MS, round(1000 / fps))
    images[0].save(path, format="GIF", save_all=True, append_images=images[1:],
                   duration=duration, loop=0)


def _write_mp4(scene: _Scene, frames: Sequence[int], path: Path, fps: float, ffmpeg: str) -> None:
    width, height = scene.pixel_size
    command = [
        ffmpeg, "-y", "-loglevel", "error",
        "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{width}x{height}", "-framerate", f"{fps:g}",
        "-i", "pipe:0",
        # yuv420p (what players expect) needs even sizes: pad odd ones with a white pixel.
        "-vf", "pad=ceil(iw/2)*2:ceil(ih/2)*2:color=white",
        "-c:v", "libx264", "-pix_fmt", "yuv420p", "-crf", "20", "-movflags", "+faststart",
        "-f", "mp4", str(path),
    ]
    # stderr goes to a file, not a pipe, so a chatty ffmpeg can never block on a full pipe.
    with tempfile.TemporaryFile() as log:
        proc = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=log)
        try:
            for i in frames:
                proc.stdin.write(scene.frame(i).tobytes())
            proc.stdin.close()
        except BrokenPipeError:
            pass  # ffmpeg died; its exit status and log explain why below
        except BaseException:
            proc.kill()  # ffmpeg would otherwise wait forever for the rest of its input
            proc.wait()
            raise
        returncode = proc.wait()
        if returncode != 0:
            log.seek(0)
            message = log.read().decode(errors="replace").strip()
            raise StarposeError(f"ffmpeg failed to write {path.name} (exit {returncode}): {message}")


def _probe_with_ffmpeg(path: Path) -> VideoInfo:
    ffmpeg = _ffmpeg_exe()
    if ffmpeg is None:
        raise StarposeError("cannot read the video: the ffmpeg binary of 'imageio-ffmpeg' is unavailable")
    # Stream copy to the null muxer counts packets without decoding: fast and exact.
    result = subprocess.run(
        [ffmpeg, "-hide_banner", "-i", str(path), "-map", "0:v:0", "-c", "copy", "-f", "null", "-"],
        capture_output=True, text=True,
    )
    frames = re.findall(r"frame=\s*(\d+)", result.stderr)
    size = re.search(r"Video: .*?, (\d{2,5})x(\d{2,5})", result.stderr)
    if result.returncode != 0 or not frames or size is None:
        raise StarposeError(f"cannot read video {path}: {result.stderr.strip()[-500:]}")
    return VideoInfo(int(frames[-1]), int(size.group(1)), int(size.group(2)))
