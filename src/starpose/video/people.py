"""Several people with a one-person detector: each person gets a BlazePose graph of their own that
follows them (MediaPipe's video mode), and sees the frame with the others painted out.

Per frame:

1. every *slot* (a followed person) runs its graph on the frame with the other slots' boxes
   (from their last detection, grown by :data:`MASK_MARGIN`) filled black;
2. a slot that finds nobody for more than :data:`MAX_MISSES` frames is freed (its graph is kept
   for the next person: setting a graph up costs ~0.4 s); two slots on one person (boxes overlapping
   by IoU > :data:`DUPLICATE_IOU`) keep the older one;
3. every ``discover_every`` frames (and while nobody is followed), a person detector runs on the
   frame with every followed person painted out, again and again, to find newcomers.

What this cannot do (documented in docs/lift.md): people who overlap a lot (one hides the other's
box) are found one at a time; a newcomer is found within ``discover_every`` frames.
"""
from __future__ import annotations

import numpy as np

from starpose.video.blazepose import SinglePose
from starpose.video.detector import box_iou, boxes_of, no_people

MASK_MARGIN = 0.15
MAX_MISSES = 2
DUPLICATE_IOU = 0.5


class _Slot:
    def __init__(self, graph: SinglePose):
        self.graph, self.box, self.misses = graph, None, 0


class BlazePosePeople:
    """Up to ``max_people`` people per frame with BlazePose (``detect(rgb) -> (P, 17, 3)``)."""

    name = "BlazePose full (MediaPipe 0.10.21, bundled), one graph per person"

    def __init__(self, max_people: int = 4, discover_every: int = 10):
        self.max_people, self.discover_every = int(max_people), int(discover_every)
        self._finder = SinglePose(track=False)
        self._slots: list[_Slot] = []
        self._spare: list[SinglePose] = []
        self._count = 0

    def detect(self, rgb: np.ndarray) -> np.ndarray:
        found = self._follow(rgb)
        if self._count % self.discover_every == 0 or not self._slots:
            found += self._discover(rgb, [b for b in (s.box for s in self._slots) if b is not None])
        self._count += 1
        return np.stack(found).astype(np.float32) if found else no_people()

    def _follow(self, rgb: np.ndarray) -> list:
        """Each slot's person in this frame; frees slots lost for too long or following a duplicate."""
        found, kept = [], []
        for slot in self._slots:
            others = [s.box for s in self._slots if s is not slot and s.box is not None]
            person = slot.graph.detect(paint_out(rgb, others) if others else rgb)
            box = boxes_of(person)[0] if len(person) else None
            if box is not None and any(box_iou(box, k.box) > DUPLICATE_IOU for k in kept):
                person, box = no_people(), None  # an older slot already follows this person
                slot.misses = MAX_MISSES
            if box is None:
                slot.misses += 1
                if slot.misses > MAX_MISSES:
                    self._spare.append(slot.graph)
                    continue
            else:
                slot.box, slot.misses = grow(box, MASK_MARGIN, rgb.shape), 0
                found.append(person[0])
            kept.append(slot)
        self._slots = kept
        return found

    def _discover(self, rgb: np.ndarray, known: list) -> list:
        """New people in the frame with the ``known`` boxes painted out; each gets a slot."""
        found = []
        while len(self._slots) < self.max_people:
            person = self._finder.detect(paint_out(rgb, known) if known else rgb)
            if not len(person):
                break
            box = grow(boxes_of(person)[0], MASK_MARGIN, rgb.shape)
            if any(box_iou(box, k) > DUPLICATE_IOU for k in known):
                break  # the detector sees a painted-out person again
            slot = _Slot(self._spare.pop() if self._spare else SinglePose(track=True))
            slot.box = box
            self._slots.append(slot)
            known = known + [box]
            found.append(person[0])
        return found

    def close(self) -> None:
        for graph in [s.graph for s in self._slots] + self._spare + [self._finder]:
            graph.close()
        self._slots, self._spare = [], []


def grow(box: np.ndarray, margin: float, shape) -> np.ndarray:
    """``box`` ``x0, y0, x1, y1`` grown by ``margin`` of its size on each side, clipped to the image
    (``shape`` ``(H, W, ...)``); the head's top above the nose gets an extra half margin."""
    x0, y0, x1, y1 = (float(v) for v in box)
    w, h = max(x1 - x0, 1.0), max(y1 - y0, 1.0)
    return np.array([max(x0 - margin * w, 0), max(y0 - 1.5 * margin * h, 0),
                     min(x1 + margin * w, shape[1]), min(y1 + margin * h, shape[0])], np.float32)


def paint_out(rgb: np.ndarray, boxes) -> np.ndarray:
    """A copy of ``rgb`` with each box ``x0, y0, x1, y1`` filled black."""
    out = rgb.copy()
    for x0, y0, x1, y1 in boxes:
        out[int(y0):int(np.ceil(y1)), int(x0):int(np.ceil(x1))] = 0
    return out
