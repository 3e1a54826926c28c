"""Several people with a one-person detector: each person gets a BlazePose graph of their own that
follows them (MediaPipe's video mode), and sees the frame with the others painted out.

Per frame:

1. every *slot* (a followed person) runs its graph on the frame with the other slots' boxes
   (from the previous frame's detections, grown by :data:`MASK_MARGIN`) filled black;
2. a slot that finds nobody for more than :data:`MAX_MISSES` frames is freed (its graph is kept
   for the next person: setting a graph up costs ~0.4 s); two slots on one person (boxes overlapping
   by IoU > :data:`DUPLICATE_IOU`) keep the older one;
3. every ``discover_every`` frames (and while nobody is followed), a person detector runs on the
   frame with every followed person painted out, again and again, to find newcomers. The black
   boxes make the person detector see people in what is left (a helmet and a model rocket beside
   a painted-out astronaut were one, at 0.77), so on such a frame it asks for a surer detection
   (:data:`NEWCOMER_CONFIDENCE`) than on a whole frame, and a newcomer is kept only if the
   detector also finds a person on a square crop of the *unpainted* frame around it (box IoU >=
   :data:`CONFIRM_IOU`).

The graphs run in parallel threads (MediaPipe releases the GIL, one core per graph), up to the
cores this process may use: every slot and the newcomer search of a frame at once. Each graph sees
only the previous frame's boxes, so the result does not depend on the number of threads.

What this cannot do (documented in docs/lift.md): people who overlap a lot (one hides the other's
box) are found one at a time; a newcomer is found within ``discover_every`` frames.
"""
from __future__ import annotations

import numpy as np

from starpose.inference.threads import usable_cores
from starpose.video.blazepose import SinglePose
from starpose.video.detector import box_iou, boxes_of, no_people

MASK_MARGIN = 0.15
MAX_MISSES = 2
DUPLICATE_IOU = 0.5
NEWCOMER_CONFIDENCE = 0.7
CONFIRM_IOU = 0.3
CONFIRM_PAD = 0.5


class _Slot:
    def __init__(self, graph: SinglePose):
        self.graph, self.box, self.misses = graph, None, 0


class BlazePosePeople:
    """Up to ``max_people`` people per frame with BlazePose (``detect(rgb) -> (P, 17, 3)``);
    ``workers``: graphs run at once (default: the usable cores; 1 runs them one after another)."""

    name = "BlazePose full (MediaPipe 0.10.21, bundled), one graph per person"

    def __init__(self, max_people: int = 4, discover_every: int = 10, workers: int | None = None):
        self.max_people, self.discover_every = int(max_people), int(discover_every)
        self._first = SinglePose(track=False)  # a whole frame, nobody followed yet
        self._finder = None  # frames with people painted out (made on first use)
        self._slots: list[_Slot] = []
        self._spare: list[SinglePose] = []
        self._count = 0
        workers = usable_cores() if workers is None else int(workers)
        self._pool = None
        if min(workers, self.max_people + 1) > 1:
            from concurrent.futures import ThreadPoolExecutor

            self._pool = ThreadPoolExecutor(min(workers, self.max_people + 1),
                                            thread_name_prefix="blazepose")

    def detect(self, rgb: np.ndarray) -> np.ndarray:
        known = [s.box for s in self._slots]
        jobs = [(slot.graph.detect, (paint_out(rgb, known[:k] + known[k + 1:]),))
                for k, slot in enumerate(self._slots)]
        search = self._count % self.discover_every == 0 or not self._slots
        if search and len(self._slots) < self.max_people:
            jobs.append((self._search, (rgb, known)))
        self._count += 1
        results = self._run(jobs)
        newcomers = results.pop() if len(results) > len(self._slots) else []
        found = self._follow(results, rgb.shape)
        for person, box in newcomers:
            if len(self._slots) >= self.max_people:
                break
            if any(box_iou(box, s.box) > DUPLICATE_IOU for s in self._slots):
                continue  # a followed person, found again
            slot = _Slot(self._spare.pop() if self._spare else SinglePose(track=True))
            slot.box = box
            self._slots.append(slot)
            found.append(person)
        return np.stack(found).astype(np.float32) if found else no_people()

    def _run(self, jobs: list) -> list:
        if self._pool is None or len(jobs) < 2:
            return [call(*args) for call, args in jobs]
        futures = [self._pool.submit(call, *args) for call, args in jobs]
        return [f.result() for f in futures]

    def _follow(self, results: list, shape) -> list:
        """Each slot's person in this frame; frees slots lost for too long or following a duplicate."""
        found, kept = [], []
        for slot, person in zip(self._slots, results):
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
                slot.box, slot.misses = grow(box, MASK_MARGIN, shape), 0
                found.append(person[0])
            kept.append(slot)
        self._slots = kept
        return found

    def _search(self, rgb: np.ndarray, known: list) -> list:
        """``(keypoints (17, 3), grown box)`` of each new person in ``rgb`` with the ``known``
        boxes painted out, one detection at a time."""
        found = []
        while len(known) < self.max_people:
            if known and self._finder is None:
                self._finder = SinglePose(track=False, min_detection_confidence=NEWCOMER_CONFIDENCE)
            graph = self._finder if known else self._first
            person = graph.detect(paint_out(rgb, known))
            if not len(person):
                break
            box = grow(boxes_of(person)[0], MASK_MARGIN, rgb.shape)
            if any(box_iou(box, k) > DUPLICATE_IOU for k in known):
                break  # the detector sees a painted-out person again
            if known and not self._confirmed(rgb, boxes_of(person)[0]):
                break  # something the painting made look like a person
            known = known + [box]
            found.append((person[0], box))
        return found

    def _confirmed(self, rgb: np.ndarray, box: np.ndarray) -> bool:
        """Whether a person is found on a square crop of ``rgb`` around ``box`` (grown by
        :data:`CONFIRM_PAD` of its longer side) where ``box`` says."""
        x0, y0, x1, y1 = (float(v) for v in box)
        half = max(x1 - x0, y1 - y0) * (1 + CONFIRM_PAD) / 2
        cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
        left, top = int(max(cx - half, 0)), int(max(cy - half, 0))
        right, bottom = int(min(cx + half, rgb.shape[1])), int(min(cy + half, rgb.shape[0]))
        if right - left < 8 or bottom - top < 8:
            return False
        person = self._first.detect(np.ascontiguousarray(rgb[top:bottom, left:right]))
        if not len(person):
            return False
        return box_iou(boxes_of(person)[0] + np.array([left, top, left, top], np.float32), box) >= CONFIRM_IOU

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None
        graphs = [s.graph for s in self._slots] + self._spare + [self._first]
        for graph in graphs + ([self._finder] if self._finder is not None else []):
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
    """A copy of ``rgb`` with each box ``x0, y0, x1, y1`` filled black (``rgb`` itself when there
    is none)."""
    if not len(boxes):
        return rgb
    out = rgb.copy()
    for x0, y0, x1, y1 in boxes:
        out[int(y0):int(np.ceil(y1)), int(x0):int(np.ceil(x1))] = 0
    return out
