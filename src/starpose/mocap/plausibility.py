"""Warnings about imported motion that loads but is probably not what the user meant.

* :func:`stature_warning`: a body height outside 1.0-2.3 m (a unit mix-up: the CMU unit on a
  centimetre file gives an 8.6 m person), with the unit that would give a typical height;
* :func:`out_of_view_warning`: frames where a joint lies outside a camera's image (a walk that
  leaves the capture volume): such keypoints are not what a detector would give.
"""
from __future__ import annotations

import numpy as np

from starpose.mocap import normalize

#: Body heights (m) outside which a take is reported.
STATURE_RANGE_M = (1.0, 2.3)


def stature_warning(path: str, stature_m: float, unit: str) -> str | None:
    """A line about an implausible height, or None."""
    low, high = STATURE_RANGE_M
    if low <= stature_m <= high:
        return None
    in_file_units = stature_m / normalize.UNITS[unit]
    likely = normalize.detect_unit(in_file_units)
    hint = (f"; in {likely} it would be {in_file_units * normalize.UNITS[likely]:.2f} m"
            if likely != unit else "")
    return (f"{path}: the person is {stature_m:.2f} m tall in unit {unit} (expected "
            f"{low:g}-{high:g} m); is the unit right{hint}?")


def outside_image(view: np.ndarray, width: int, height: int) -> np.ndarray:
    """Frames ``(T,)`` of pixels ``(T, J, 2)`` where a joint is outside the image."""
    x, y = view[..., 0], view[..., 1]
    return ((x < 0) | (x >= width) | (y < 0) | (y >= height)).any(axis=-1)


def out_of_view_warning(counts: dict[str, tuple[int, int]], cameras: str) -> str | None:
    """A line about frames with joints outside the image; ``counts`` maps each take's file to
    ``(frames with a joint outside any view's image, frames x views)``; None when there are none."""
    outside = sum(o for o, _ in counts.values())
    if not outside:
        return None
    total = sum(n for _, n in counts.values())
    worst = sorted(((o / n, path) for path, (o, n) in counts.items() if o), reverse=True)
    shown = ", ".join(f"{path} {100 * share:.1f} %" for share, path in worst[:3])
    more = f" and {len(worst) - 3} more" if len(worst) > 3 else ""
    advice = ("; 'ring:N' cameras frame the whole motion" if cameras == "h36m"
              else "; the cameras are set for the motion's reach, so check the clips' units and root")
    return (f"{100 * outside / total:.1f} % of the imported frames (over all views) have joints "
            f"outside the camera image, in {len(worst)} of {len(counts)} takes ({shown}{more}){advice}")
