"""Writing video files with PyAV's encoders (no system FFmpeg): what ``--render`` and the tests'
clips use.

:class:`VideoWriter` takes ``(H, W, 3)`` uint8 RGB frames; the codec follows the extension
(:data:`CODECS`: H.264 in ``.mp4``/``.mov``/``.mkv``, MPEG-4 part 2 in ``.avi``, VP9 in ``.webm``).
"""
from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np

from starpose.errors import StarposeError

CODECS = {".mp4": "libx264", ".mov": "libx264", ".mkv": "libx264", ".avi": "mpeg4",
          ".webm": "libvpx-vp9"}


class VideoWriter:
    """Write RGB frames to ``path`` at ``fps``; ``format`` names the container where the path's
    extension does not (a temporary file). Call :meth:`write` per frame, then :meth:`close`."""

    def __init__(self, path, fps: float, *, suffix: str | None = None, quality: int = 23):
        import av

        self.path = Path(path)
        suffix = (suffix or self.path.suffix).lower()
        if suffix not in CODECS:
            raise StarposeError(f"{self.path}: cannot write {suffix or 'this'} videos; use "
                                f"{', '.join(CODECS)}")
        self._container = av.open(str(self.path), "w", format=suffix[1:] if suffix != ".mkv" else "matroska")
        self._codec, self._fps, self._quality = CODECS[suffix], Fraction(fps).limit_denominator(1001), quality
        self._stream = None
        self.frames = 0

    def _start(self, height: int, width: int) -> None:
        stream = self._container.add_stream(self._codec, rate=self._fps)
        stream.width, stream.height = width + width % 2, height + height % 2  # even sizes for 4:2:0
        stream.pix_fmt = "yuv420p"
        if self._codec == "libx264":
            stream.options = {"crf": str(self._quality), "preset": "veryfast"}
        self._stream = stream

    def write(self, rgb: np.ndarray) -> None:
        """Append one ``(H, W, 3)`` uint8 frame (every frame the size of the first)."""
        import av

        rgb = np.ascontiguousarray(rgb, dtype=np.uint8)
        if self._stream is None:
            self._start(*rgb.shape[:2])
        if rgb.shape[:2] != (self._stream.height, self._stream.width):
            rgb = _pad_to(rgb, self._stream.height, self._stream.width)
        frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
        for packet in self._stream.encode(frame):
            self._container.mux(packet)
        self.frames += 1

    def close(self) -> Path:
        if self._stream is not None:
            for packet in self._stream.encode():
                self._container.mux(packet)
        self._container.close()
        return self.path

    def abort(self) -> None:
        """Close without finishing (the caller removes the file)."""
        try:
            self._container.close()
        except Exception:  # noqa: BLE001 - the file is being thrown away
            pass


def _pad_to(rgb: np.ndarray, height: int, width: int) -> np.ndarray:
    out = np.zeros((height, width, 3), np.uint8)
    h, w = min(height, rgb.shape[0]), min(width, rgb.shape[1])
    out[:h, :w] = rgb[:h, :w]
    return out
