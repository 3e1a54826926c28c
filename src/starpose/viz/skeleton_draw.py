"""Fast skeleton drawing on RGB frames with Pillow (a video frame per call, no matplotlib):
the 2D keypoints over the video frame, and a 3D pose seen from a turned viewpoint in a panel.

3D poses are camera coordinates (x right, y down, z forward, metres, root-relative); a panel
turns them about the vertical axis by ``azimuth`` (0: seen from the camera; 90: from the side)
and tilts by ``elevation``, then projects orthographically, ``metres`` of height filling the
panel. Left limbs blue, right limbs red, the spine grey (as in :mod:`starpose.viz.animation`).
"""
from __future__ import annotations

import numpy as np

LEFT, RIGHT, CENTRE = (40, 110, 230), (220, 50, 50), (90, 90, 90)
TRACK_COLOURS = ((255, 200, 0), (0, 200, 255), (120, 230, 80), (255, 120, 220), (250, 250, 250))


def font(size: int):
    """Pillow's built-in font at ``size`` pixels (no font file needed)."""
    from PIL import ImageFont

    return ImageFont.load_default(size=size)


def bone_colours(skeleton) -> list:
    """One RGB colour per bone ``(parent, child)`` of ``skeleton.bones``."""
    left, right = set(skeleton.joints_left), set(skeleton.joints_right)
    return [LEFT if j in left else RIGHT if j in right else CENTRE for _, j in skeleton.bones]


def draw_2d(draw, xy: np.ndarray, skeleton, scale: float = 1.0, label: str | None = None,
            label_colour=(255, 255, 255), width: int = 3) -> None:
    """Bones of ``xy`` ``(J, 2)`` pixels (times ``scale``) on a ``PIL.ImageDraw``; ``label`` above
    the head."""
    pts = np.asarray(xy, np.float64) * scale
    for (a, b), colour in zip(skeleton.bones, bone_colours(skeleton)):
        draw.line([tuple(pts[a]), tuple(pts[b])], fill=colour, width=width)
    for x, y in pts:
        draw.ellipse([x - width, y - width, x + width, y + width], fill=(255, 255, 255))
    if label:
        top = pts[np.argmin(pts[:, 1])]
        draw.text((top[0] - 12, top[1] - 30), label, fill=label_colour, font=font(20),
                  stroke_width=2, stroke_fill=(0, 0, 0))


def view_3d(pose: np.ndarray, azimuth: float = 70.0, elevation: float = 15.0) -> np.ndarray:
    """``(J, 3)`` camera coordinates -> ``(J, 2)`` panel coordinates (x right, y down, metres)."""
    a, e = np.radians(azimuth - 90.0), np.radians(elevation)
    x, y, z = pose[:, 0], pose[:, 1], pose[:, 2]
    # turn about the vertical (image y) axis, then tilt about the horizontal axis
    xr = np.cos(a) * x - np.sin(a) * z
    zr = np.sin(a) * x + np.cos(a) * z
    yr = np.cos(e) * y - np.sin(e) * zr
    return np.stack([xr, yr], axis=-1)


def draw_3d_panel(pose: np.ndarray, skeleton, size: tuple[int, int], *, azimuth: float = 70.0,
                  elevation: float = 15.0, metres: float = 2.2, title: str = ""):
    """A ``PIL.Image`` of ``size`` ``(w, h)`` with ``pose`` ``(J, 3)`` drawn from the viewpoint."""
    from PIL import Image, ImageDraw

    w, h = size
    image = Image.new("RGB", (w, h), (245, 245, 245))
    draw = ImageDraw.Draw(image)
    scale = h / metres
    flat = view_3d(np.asarray(pose, np.float64), azimuth, elevation) * scale
    flat = flat + (w / 2.0, h / 2.0)  # the root joint (at the origin) mid-panel
    floor = h / 2.0 + 0.95 * scale
    draw.line([(w * 0.1, floor), (w * 0.9, floor)], fill=(200, 200, 200), width=1)
    draw_2d(draw, flat, skeleton, width=max(2, h // 160))
    if title:
        draw.text((10, 8), title, fill=(30, 30, 30), font=font(16))
    return image
