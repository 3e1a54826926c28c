"""``--precision fp32|bf16|auto``: which arithmetic lifting and evaluation use.

bf16 (matrix products in bf16, the residual stream and LayerNorms in fp32; the CPU inference
path's bf16 mode) is twice as fast or more on CPUs with native bf16, but it changes the numbers.
The decision of ``auto`` rests on a measurement of the metrics, not of a relative error
(docs/performance.md, "bf16 and the metrics"): bf16 would become the default where it changes
the synthetic test set's MPJPE by less than :data:`MPJPE_BAR_MM` and the acceleration error by
less than :data:`ACCEL_BAR_MM`. Measured for the bundled model (all 240 test sequences of the
``small`` set, clean protocol): MPJPE +0.065 mm, acceleration error +0.155 mm, above the bar (the
first bundled model: +0.009 / +0.160; the box-input one before it: -0.039 / +0.102; an 81-frame
model: +0.068 / +0.065), so
:data:`BF16_BY_DEFAULT` is False and ``auto`` is fp32 everywhere; ``bf16`` stays available on
request. The published protocol of ``evaluate`` is fp32 always: its numbers are compared with
papers.

Kept free of torch imports (the command line's help and checks use it).
"""
from __future__ import annotations

from starpose.errors import OptionError

PRECISIONS = ("auto", "fp32", "bf16")
MPJPE_BAR_MM = 0.1
ACCEL_BAR_MM = 0.05
#: Whether ``auto`` takes bf16 where the hardware runs it natively (see the module docstring).
BF16_BY_DEFAULT = False
#: Measured change of the bundled model's metrics by bf16 (mm): why :data:`BF16_BY_DEFAULT` is False.
MEASURED_CHANGE_MM = {"mpjpe": 0.065, "accel_error": 0.155}


def resolve_precision(asked: str, device_type: str = "cpu", *, runtime: str = "torch",
                      published_protocol: bool = False, native_bf16: bool | None = None) -> str:
    """``"fp32"`` or ``"bf16"`` for ``--precision asked``; :class:`OptionError` (one line) where
    bf16 cannot be honoured: the ONNX runtime (it runs the fp32 export), the published protocol,
    a CPU without native bf16 (it would be emulated, slower than fp32). ``native_bf16``: whether
    this CPU has it (default: asked of :mod:`starpose.inference.cpu_features`)."""
    if asked not in PRECISIONS:
        raise OptionError(f"<precision> {asked!r}: choose one of {', '.join(PRECISIONS)}")
    if asked == "fp32":
        return "fp32"
    if asked == "auto":
        usable = BF16_BY_DEFAULT and runtime == "torch" and not published_protocol
        return "bf16" if usable and _native(device_type, native_bf16) else "fp32"
    if runtime != "torch":
        raise OptionError("<precision> bf16: ONNX Runtime runs the fp32 export; lift with "
                          "<runtime> torch for bf16")
    if published_protocol:
        raise OptionError("<precision> bf16: the published protocol is evaluated in fp32, as the "
                          "numbers it is compared with; use <protocol> clean for bf16")
    if not _native(device_type, native_bf16):
        raise OptionError("<precision> bf16: this CPU has no native bf16 (AMX-BF16 or AVX512-BF16); "
                          "emulated bf16 is slower than fp32 and less exact")
    return "bf16"


def _native(device_type: str, native_bf16: bool | None) -> bool:
    if device_type != "cpu":
        return True  # CUDA: bf16 on every GPU that PyTorch supports it on
    if native_bf16 is None:
        from starpose.inference.cpu_features import bf16_support

        native_bf16 = bf16_support().native
    return bool(native_bf16)


def precision_note(asked: str, used: str) -> str:
    """The summary line's words: ``"fp32"``, or why ``auto`` chose what it did."""
    if asked != "auto":
        return used
    if used == "bf16":
        return "bf16 (auto: native bf16 here)"
    return (f"fp32 (auto: bf16 changes the bundled model's acceleration error by "
            f"{MEASURED_CHANGE_MM['accel_error']:.2f} mm, above the {ACCEL_BAR_MM} mm bar; docs/performance.md)")


def amp_of(precision: str) -> str | None:
    """The ``amp`` argument of :mod:`starpose.inference.predictors` for a resolved precision."""
    return "bf16" if precision == "bf16" else None


__all__ = ["PRECISIONS", "BF16_BY_DEFAULT", "MEASURED_CHANGE_MM", "resolve_precision", "precision_note", "amp_of"]
