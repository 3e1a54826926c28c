"""Running an exported starpose ONNX file under ONNX Runtime: :class:`OnnxPredictor`.

The predictor has the interface of the torch window predictor used by ``starpose lift``:
``.frames``, ``.num_joints``, ``.flip_in_graph`` and ``predictor(windows)`` with windows
``(B, F, J, 2)`` float32 -> flip-averaged predictions ``(B, F, J, 3)`` float32. When the file
was exported with ``--flip`` the graph averages; otherwise the mirrored windows are run in the
same batch and averaged here, with the flip permutation stored in the file's metadata.

``onnxruntime`` is an optional dependency (``pip install 'starpose[onnx]'``); without it, and
for a file that is not a starpose export, the errors are one-line :class:`StarposeError`\\ s.
"""
from __future__ import annotations

import os

import numpy as np

from starpose.errors import DataError, StarposeError

INSTALL_HINT = "ONNX Runtime is not installed: pip install 'starpose[onnx]'"
REQUIRED_KEYS = ("starpose_version", "joints", "frames", "flip_in_graph", "flip_permutation")


def import_onnxruntime():
    """The ``onnxruntime`` module, or a StarposeError with the install hint."""
    try:
        import onnxruntime
    except ImportError:
        raise StarposeError(INSTALL_HINT) from None
    return onnxruntime


class OnnxPredictor:
    """A starpose ONNX export under ONNX Runtime (CPU), with the interface of
    :class:`starpose.inference.predictors.TorchPredictor`. ``flip``: average with the mirrored input (a graph
    exported with the flip inside always does); ``batch_size``: windows per run;
    ``threads``: intra-op threads (0: ORT's default); ``spinning``: whether idle ORT threads
    busy-wait for the next work (ORT's default; off where other work shares the cores)."""

    def __init__(self, path: str | os.PathLike, *, flip: bool = True, batch_size: int = 32,
                 threads: int = 0, spinning: bool = True):
        self.flip, self.batch_size = flip, batch_size
        ort = import_onnxruntime()
        self.path = str(path)
        if not os.path.isfile(self.path):
            raise DataError(f"{self.path}: no such ONNX file")
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        if not spinning:
            options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        try:
            self.session = ort.InferenceSession(self.path, options, providers=["CPUExecutionProvider"])
        except Exception as err:  # ORT raises its own exception types for unreadable files
            raise DataError(f"{self.path}: not a readable ONNX file ({str(err).splitlines()[0][:160]})") from None
        self.metadata = dict(self.session.get_modelmeta().custom_metadata_map)
        self._check()
        self.frames = int(self.metadata["frames"])
        self.num_joints = int(self.metadata["joints"])
        self.flip_in_graph = self.metadata["flip_in_graph"] == "1"
        self.flip_permutation = [int(i) for i in self.metadata["flip_permutation"].split(",")]
        self.input_name = self.session.get_inputs()[0].name

    def _check(self) -> None:
        missing = [key for key in REQUIRED_KEYS if key not in self.metadata]
        if missing:
            raise DataError(f"{self.path}: not a starpose ONNX export (no {', '.join(missing)} in its metadata)")
        inputs = self.session.get_inputs()
        shape = list(inputs[0].shape) if len(inputs) == 1 else None
        expected = [int(self.metadata["frames"]), int(self.metadata["joints"]), 2]
        if shape is None or len(shape) != 4 or shape[1:] != expected:
            raise DataError(f"{self.path}: not a starpose ONNX export (input shape {shape}, "
                            f"expected [batch, {', '.join(map(str, expected))}])")

    def __call__(self, windows: np.ndarray) -> np.ndarray:
        """Flip-averaged predictions ``(B, F, J, 3)`` for windows ``(B, F, J, 2)``."""
        windows = np.ascontiguousarray(windows, dtype=np.float32)
        if windows.ndim != 4 or windows.shape[1:] != (self.frames, self.num_joints, 2):
            raise ValueError(f"expected windows (B, {self.frames}, {self.num_joints}, 2), got {windows.shape}")
        parts = [self._predict(windows[i:i + self.batch_size])
                 for i in range(0, len(windows), self.batch_size)]
        return np.concatenate(parts) if parts else np.zeros(windows.shape[:3] + (3,), np.float32)

    def _predict(self, windows: np.ndarray) -> np.ndarray:
        if self.flip_in_graph or not self.flip:
            return self._run(windows)
        n = windows.shape[0]
        out = self._run(np.concatenate([windows, self._flip(windows)]))
        return 0.5 * (out[:n] + self._flip(out[n:]))

    def _run(self, windows: np.ndarray) -> np.ndarray:
        return self.session.run(None, {self.input_name: windows})[0]

    def _flip(self, x: np.ndarray) -> np.ndarray:
        """Mirror ``(..., J, C)``: swap left/right joints, negate channel 0."""
        out = x[..., self.flip_permutation, :]
        out[..., 0] *= -1
        return out


__all__ = ["OnnxPredictor", "import_onnxruntime", "INSTALL_HINT"]
