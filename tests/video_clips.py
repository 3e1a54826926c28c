"""Short test videos made from scikit-image's astronaut photograph, written with PyAV's encoder:
the photograph moved and scaled over the frames, once or twice side by side (the second copy
mirrored)."""
import numpy as np
from PIL import Image
from skimage import data

from starpose.video.writer import VideoWriter


def astronaut_frame(t: int, people: int = 1, size=(320, 240)) -> np.ndarray:
    """Frame ``t``: each person ~180-200 px tall, drifting sideways and growing slowly."""
    w, h = size
    frame = np.full((h, w, 3), 35, np.uint8)
    photo = data.astronaut()
    side = int(180 + 2 * t)
    for k in range(people):
        img = np.asarray(Image.fromarray(photo if k == 0 else photo[:, ::-1]).resize((side, side)))
        x = (6 + 2 * t) if k == 0 else w - side - 6 - 2 * t
        y = max(0, h - side - 4)
        hh, ww = min(side, h - y), min(side, w - x)
        frame[y:y + hh, x:x + ww] = img[:hh, :ww]
    return frame


def make_clip(path, frames: int = 12, people: int = 1, fps: float = 25.0, size=(320, 240)):
    """Write the clip; returns its path."""
    writer = VideoWriter(path, fps)
    for t in range(frames):
        writer.write(astronaut_frame(t, people, size))
    writer.close()
    return path
