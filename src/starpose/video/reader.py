"""Reading video frames: a video file (PyAV, FFmpeg's libraries in a wheel), a folder of images, or
a camera.

:func:`open_frames` returns a :class:`FrameSource`: its :class:`VideoInfo` (size, frame rate, the
frame count the container states) and an iterator of ``(frame_number, rgb)`` pairs, ``rgb``
``(H, W, 3)`` uint8. The frame numbers come from the container's timestamps
(``round((pts - first_pts) * time_base * fps)``), so a clip cut from a longer one keeps its own
numbering and a dropped frame leaves a gap; without timestamps they count decoded frames.

Every problem with the input is one :class:`VideoError` line naming the file: not a video, empty,
no video stream, a codec FFmpeg cannot decode, a stream that breaks off (truncated).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np

from starpose.errors import DataError

VIDEO_SUFFIXES = (".mp4", ".mov", ".avi", ".mkv", ".webm", ".m4v")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".webp")
INSTALL_HINT = "install the video extra: pip install 'starpose[video]'"


class VideoError(DataError):
    """A video (or image folder, or camera) that cannot be read."""


@dataclass(frozen=True)
class VideoInfo:
    """What the container says: ``width``/``height`` pixels, ``fps`` (None for an image folder),
    ``num_frames`` (the stated count; None when the container states none), ``codec``."""

    path: str
    width: int
    height: int
    fps: float | None
    num_frames: int | None
    codec: str


def is_video_input(path) -> bool:
    """Whether ``path`` is read as a video: a file with a video extension, or a folder of images."""
    path = Path(path)
    if path.is_dir():
        return any(p.suffix.lower() in IMAGE_SUFFIXES for p in path.iterdir())
    return path.suffix.lower() in VIDEO_SUFFIXES


def _import_av():
    try:
        import av
    except ImportError:
        raise VideoError(f"reading videos needs PyAV; {INSTALL_HINT}") from None
    return av


class FrameSource:
    """Frames of one input; iterate for ``(frame_number, rgb (H, W, 3) uint8)``; close when done."""

    def __init__(self, info: VideoInfo, frames: Iterator, closer=None):
        self.info, self._frames, self._closer = info, frames, closer

    def __iter__(self):
        return self._frames

    def close(self) -> None:
        if self._closer is not None:
            self._closer()
            self._closer = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def open_frames(path) -> FrameSource:
    """A :class:`FrameSource` for a video file or an image folder."""
    path = Path(path)
    if path.is_dir():
        return _open_folder(path)
    if not path.is_file():
        raise VideoError(f"{path}: no such file")
    if path.stat().st_size == 0:
        raise VideoError(f"{path}: empty file (0 bytes), not a video")
    av = _import_av()
    try:
        container = av.open(str(path), "r")
    except (av.error.FFmpegError, UnicodeDecodeError, ValueError) as err:
        raise VideoError(f"{path}: not a readable video, or truncated "
                         f"({_ffmpeg_reason(err)})") from None
    return _open_container(container, path, av)


def open_camera(index: int) -> FrameSource:
    """Camera ``index`` (``/dev/videoN`` through FFmpeg's v4l2 input; Linux only)."""
    av = _import_av()
    device = f"/dev/video{int(index)}"
    try:
        container = av.open(device, format="v4l2")
    except (av.error.FFmpegError, ValueError) as err:
        raise VideoError(f"camera {index} ({device}): cannot open it ({_ffmpeg_reason(err)})") from None
    return _open_container(container, Path(device), av)


def _ffmpeg_reason(err) -> str:
    text = getattr(err, "strerror", None) or str(err)
    return re.sub(r"\s+", " ", str(text)).strip() or type(err).__name__


def _open_container(container, path: Path, av) -> FrameSource:
    if not container.streams.video:
        container.close()
        raise VideoError(f"{path}: holds no video stream")
    stream = container.streams.video[0]
    ctx = stream.codec_context
    if ctx is None or stream.codec_context.name in (None, "", "none"):
        container.close()
        raise VideoError(f"{path}: unsupported video codec (FFmpeg has no decoder for it)")
    stream.thread_type = "AUTO"
    # the nominal rate (FFmpeg's r_frame_rate), not the average: a dropped frame must leave a
    # gap in the numbering, not slow every frame down
    rate = stream.guessed_rate or stream.base_rate or stream.average_rate
    fps = float(rate) if rate else None
    stated = int(stream.frames) or None
    if stated is None and container.duration and fps:  # Matroska/WebM state a duration only
        stated = int(round(container.duration / 1e6 * fps)) or None
    info = VideoInfo(str(path), int(ctx.width), int(ctx.height), fps, stated, ctx.name)
    if info.width <= 0 or info.height <= 0:
        container.close()
        raise VideoError(f"{path}: the video stream states no frame size (unsupported codec?)")
    return FrameSource(info, _decode(container, stream, path, info, av), container.close)


def _decode(container, stream, path: Path, info: VideoInfo, av):
    """Decoded frames with their numbers; raises :class:`VideoError` for a stream that breaks off
    or holds no frame."""
    first_pts, count, last = None, 0, -1
    base = float(stream.time_base) if stream.time_base else None
    try:
        for frame in container.decode(stream):
            number = count
            if frame.pts is not None and base and info.fps:
                first_pts = frame.pts if first_pts is None else first_pts
                number = int(round((frame.pts - first_pts) * base * info.fps))
            number = max(number, last + 1)  # strictly increasing, whatever the timestamps say
            last, count = number, count + 1
            yield number, frame.to_ndarray(format="rgb24")
    except av.error.FFmpegError as err:
        raise VideoError(f"{path}: the video stream breaks off after {count} frames "
                         f"(truncated or damaged: {_ffmpeg_reason(err)})") from None
    if count == 0:
        raise VideoError(f"{path}: the video holds no frames (zero-length, truncated or "
                         "an unsupported codec)")
    if info.num_frames and count < 0.9 * info.num_frames - 1:
        raise VideoError(f"{path}: the container states {info.num_frames} frames but only "
                         f"{count} could be decoded (truncated)")


_NUMBER = re.compile(r"(\d+)(?!.*\d)")


def _open_folder(folder: Path) -> FrameSource:
    """Images of a folder in the order of the number in their names (else by name)."""
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise VideoError(f"{folder}: no images ({', '.join(IMAGE_SUFFIXES)}) in this folder")
    numbers = [_NUMBER.search(p.stem) for p in files]
    if all(numbers) and len({int(m.group(1)) for m in numbers}) == len(files):
        pairs = sorted(zip((int(m.group(1)) for m in numbers), files))
    else:
        pairs = list(enumerate(files))
    first = _read_image(pairs[0][1])
    info = VideoInfo(str(folder), first.shape[1], first.shape[0], None, len(pairs), "images")
    return FrameSource(info, _images(pairs, info))


def _read_image(path: Path) -> np.ndarray:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as img:
            return np.asarray(img.convert("RGB"))
    except (UnidentifiedImageError, OSError) as err:
        raise VideoError(f"{path}: not a readable image ({err})") from None


def _images(pairs, info: VideoInfo):
    for number, file in pairs:
        rgb = _read_image(file)
        if rgb.shape[:2] != (info.height, info.width):
            raise VideoError(f"{file}: {rgb.shape[1]}x{rgb.shape[0]} px, but the folder's first "
                             f"image is {info.width}x{info.height}")
        yield number, rgb
