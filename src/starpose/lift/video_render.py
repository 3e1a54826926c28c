"""``--render`` for a video: each frame of the video with the 2D skeletons the lifter saw, beside
one 3D panel per lifted person, at the video's frame rate and frame numbers.

The video is decoded a second time (frames are never held in memory), scaled to ``height``
pixels, drawn on with Pillow (:mod:`starpose.viz.skeleton_draw`) and encoded with PyAV
(:class:`starpose.video.writer.VideoWriter`).
"""
from __future__ import annotations

import numpy as np

DEFAULT_HEIGHT = 480


def render_video(lifted, skeleton, out_path, *, height: int = DEFAULT_HEIGHT,
                 azimuth: float = 70.0) -> int:
    """Write ``lifted`` (:class:`starpose.lift.video.VideoLift`) as a video to ``out_path``
    (format from its extension); returns the number of frames written."""
    from starpose.video.reader import open_frames
    from starpose.video.writer import VideoWriter

    lookups = [{int(n): i for i, n in enumerate(r.kp.frame_numbers)} for r in lifted.results]
    with open_frames(lifted.path) as source:
        writer = VideoWriter(out_path, source.info.fps or 25.0)
        try:
            for number, rgb in source:
                writer.write(compose(rgb, number, lifted.results, lookups, skeleton, height, azimuth))
        except BaseException:
            writer.abort()
            raise
        writer.close()
    return writer.frames


def compose(rgb, number: int, results, lookups, skeleton, height: int, azimuth: float) -> np.ndarray:
    """One output frame: the scaled video frame with every person's 2D skeleton, then a 3D panel
    per person (blank where the person is not in this frame)."""
    from PIL import Image, ImageDraw

    from starpose.viz.skeleton_draw import TRACK_COLOURS, draw_3d_panel

    scale = height / rgb.shape[0]
    frame = Image.fromarray(rgb).resize((max(2, round(rgb.shape[1] * scale)), height), Image.BILINEAR)
    draw = ImageDraw.Draw(frame)
    panels = []
    for k, (result, lookup) in enumerate(zip(results, lookups)):
        colour = TRACK_COLOURS[k % len(TRACK_COLOURS)]
        i = lookup.get(int(number))
        label = f"#{result.id}"
        if i is None:
            panels.append(draw_3d_panel(np.zeros((0, 3)), _Empty(), (height * 3 // 4, height),
                                        title=f"{label}: not in this frame"))
            continue
        from starpose.viz.skeleton_draw import draw_2d

        draw_2d(draw, result.kp.xy[i], skeleton, scale, label=label, label_colour=colour)
        panels.append(draw_3d_panel(result.poses[i], skeleton, (height * 3 // 4, height),
                                    azimuth=azimuth, title=f"{label} 3D (frame {number})"))
    out = Image.new("RGB", (frame.width + sum(p.width for p in panels), height))
    out.paste(frame, (0, 0))
    x = frame.width
    for panel in panels:
        out.paste(panel, (x, 0))
        x += panel.width
    return np.asarray(out)


class _Empty:
    """A skeleton without bones, for a blank panel."""

    bones: list = []
    joints_left: list = []
    joints_right: list = []
