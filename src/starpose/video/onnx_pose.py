"""A user's YOLO-pose ONNX model on ONNX Runtime (several people per frame, in one pass).

The model must have what an Ultralytics YOLOv8/YOLO11 pose export (``yolo export model=yolov8n-pose.pt
format=onnx``) has:

* one input ``(1, 3, S, S)`` float32 (``S`` fixed in the file, e.g. 640): RGB in [0, 1], the
  frame scaled to fit ``S x S`` keeping its aspect and centred on grey (114) padding;
* one output ``(1, 56, N)`` (or ``(1, N, 56)``): per candidate, the box centre x, y, width and
  height in input pixels, the person score, then the 17 COCO keypoints as x, y (input pixels)
  and a visibility in [0, 1].

Candidates scoring below ``min_score`` are dropped, then overlapping boxes (IoU > ``nms_iou``)
keep the best; keypoints are mapped back to the frame's pixels. A file with another shape of
inputs or outputs is refused in one line.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from starpose.video.detector import COCO17, DetectorError, no_people

ROW = 5 + 3 * len(COCO17)  # 56


class OnnxPoseDetector:
    """``detect(rgb) -> (P, 17, 3)`` with a YOLO-pose ONNX file (see the module docstring)."""

    def __init__(self, path, *, max_people: int = 4, min_score: float = 0.25, nms_iou: float = 0.45):
        self.path = Path(path)
        self.max_people, self.min_score, self.nms_iou = max_people, min_score, nms_iou
        self._session, self.size = _open_session(self.path)
        self.name = f"YOLO-pose ONNX model {self.path.name} (ONNX Runtime, {self.size} px)"

    def detect(self, rgb: np.ndarray) -> np.ndarray:
        image, scale, pad = letterbox(rgb, self.size)
        out = self._session.run(None, {self._session.get_inputs()[0].name: image})[0][0]
        rows = out.T if out.shape[0] == ROW and out.shape[1] != ROW else out
        rows = rows[rows[:, 4] >= self.min_score]
        if not len(rows):
            return no_people()
        keep = nms(rows[:, :4], rows[:, 4], self.nms_iou)[: self.max_people]
        people = rows[keep, 5:].reshape(len(keep), len(COCO17), 3).astype(np.float32)
        people[..., 0] = (people[..., 0] - pad[0]) / scale
        people[..., 1] = (people[..., 1] - pad[1]) / scale
        people[..., 2] = np.clip(people[..., 2], 0.0, 1.0)
        return people

    def close(self) -> None:
        self._session = None


def _open_session(path: Path):
    """An ONNX Runtime session of a YOLO-pose model and its input size; refuses other models."""
    try:
        import onnxruntime as ort
    except ImportError:
        raise DetectorError(f"{path}: ONNX models need ONNX Runtime; pip install 'starpose[onnx]'") from None
    try:
        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    except Exception as err:  # noqa: BLE001 - ONNX Runtime raises its own untyped errors
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise DetectorError(f"{path}: not an ONNX model ONNX Runtime can load ({first[:160]})") from None
    inputs, outputs = session.get_inputs(), session.get_outputs()
    shape_in = list(inputs[0].shape) if len(inputs) == 1 else None
    shape_out = list(outputs[0].shape) if outputs else []
    fits_in = (shape_in is not None and len(shape_in) == 4 and shape_in[1] == 3
               and isinstance(shape_in[2], int) and shape_in[2] == shape_in[3])
    fits_out = len(shape_out) == 3 and ROW in shape_out[1:]
    if not (fits_in and fits_out):
        got_in = [list(i.shape) for i in inputs]
        raise DetectorError(
            f"{path}: not a YOLO-pose model: expected one input (1, 3, S, S) and an output "
            f"(1, {ROW}, N) (box, score, 17 keypoints x, y, visibility); it has inputs {got_in} "
            f"and output {shape_out}")
    return session, int(shape_in[2])


def letterbox(rgb: np.ndarray, size: int):
    """``(1, 3, size, size)`` float32 input in [0, 1] (aspect kept, grey padding), the scale and
    the ``(x, y)`` padding, so that ``frame = (input - pad) / scale``."""
    from PIL import Image

    h, w = rgb.shape[:2]
    scale = min(size / w, size / h)
    nw, nh = max(1, round(w * scale)), max(1, round(h * scale))
    resized = np.asarray(Image.fromarray(np.ascontiguousarray(rgb)).resize((nw, nh), Image.BILINEAR))
    canvas = np.full((size, size, 3), 114, np.uint8)
    px, py = (size - nw) // 2, (size - nh) // 2
    canvas[py:py + nh, px:px + nw] = resized
    image = canvas.transpose(2, 0, 1)[None].astype(np.float32) / 255.0
    return image, scale, (px, py)


def nms(boxes_cxcywh: np.ndarray, scores: np.ndarray, iou: float) -> list[int]:
    """Indices kept by greedy non-maximum suppression, best score first."""
    b = np.concatenate([boxes_cxcywh[:, :2] - boxes_cxcywh[:, 2:] / 2,
                        boxes_cxcywh[:, :2] + boxes_cxcywh[:, 2:] / 2], axis=1)
    area = np.prod(np.clip(b[:, 2:] - b[:, :2], 0, None), axis=1)
    order, keep = list(np.argsort(-scores)), []
    while order:
        i = order.pop(0)
        keep.append(int(i))
        rest = np.array(order, dtype=int)
        if not len(rest):
            break
        lt, rb = np.maximum(b[i, :2], b[rest, :2]), np.minimum(b[i, 2:], b[rest, 2:])
        inter = np.prod(np.clip(rb - lt, 0, None), axis=1)
        overlap = inter / np.maximum(area[i] + area[rest] - inter, 1e-9)
        order = [int(j) for j, o in zip(rest, overlap) if o <= iou]
    return keep
