"""What the CPU offers for bf16: native bf16 matrix instructions or emulation.

bf16 matrix products run natively on CPUs with AMX-BF16 (Intel Sapphire Rapids and later) or
AVX512-BF16 (Intel Cooper Lake, AMD Zen 4 and later): about twice the fp32 throughput with
AVX512-BF16, far more with AMX. Elsewhere PyTorch emulates them through fp32 and bf16 is
*slower* than fp32 (measured ~3x slower on an AVX-512 Xeon without AVX512-BF16). The flags come
from ``/proc/cpuinfo`` (Linux), else from PyTorch's own CPU detection.

:func:`warn_if_emulated` is called wherever bf16 is asked for on the CPU (``autocast``), so that
emulation is never silent: one warning per process.
"""
from __future__ import annotations

import functools
import warnings
from dataclasses import dataclass
from pathlib import Path

from starpose.errors import StarposeWarning

#: The flags that give native bf16 matrix products, best first, with their names in reports.
NATIVE_BF16_FLAGS = (("amx_bf16", "AMX-BF16"), ("avx512_bf16", "AVX512-BF16"))

_warned = False


@dataclass(frozen=True)
class Bf16Support:
    """``native``: bf16 matrix products run in hardware; ``via``: the instruction set
    (``"AMX-BF16"``, ``"AVX512-BF16"``; ``""`` when emulated); ``capability``: the vector
    instruction set PyTorch's CPU kernels were dispatched to (``"AVX512"``, ``"AVX2"`` ...)."""

    native: bool
    via: str
    capability: str

    def describe(self) -> str:
        """One line for ``starpose info`` and the benchmark header."""
        if self.native:
            return f"bf16 native ({self.via}), torch CPU kernels {self.capability}"
        return (f"bf16 emulated (no AMX-BF16 or AVX512-BF16: bf16 runs slower than fp32), "
                f"torch CPU kernels {self.capability}")


def cpu_flags(cpuinfo: str | None = None) -> frozenset[str]:
    """The CPU's feature flags: the ``flags`` line of ``/proc/cpuinfo`` (or of ``cpuinfo``), else
    the features PyTorch detected; empty when neither is available."""
    if cpuinfo is None:
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text()
        except OSError:
            cpuinfo = ""
    for line in cpuinfo.splitlines():
        if line.split(":", 1)[0].strip() == "flags":
            return frozenset(line.split(":", 1)[1].split())
    return _torch_flags()


def _torch_flags() -> frozenset[str]:
    try:
        import torch

        found = torch._C._cpu._get_cpu_capability()
    except (ImportError, AttributeError, RuntimeError):
        return frozenset()
    return frozenset(name for name, value in found.items() if value is True)


def bf16_support(flags: frozenset[str] | None = None) -> Bf16Support:
    """Native bf16 support of this CPU (or of the given flags)."""
    import torch

    flags = cpu_flags() if flags is None else flags
    via = next((name for flag, name in NATIVE_BF16_FLAGS if flag in flags), "")
    return Bf16Support(bool(via), via, torch.backends.cpu.get_cpu_capability())


@functools.lru_cache(maxsize=1)
def _this_cpu() -> Bf16Support:
    return bf16_support()


def warn_if_emulated() -> bool:
    """Warn (once per process) that bf16 on this CPU is emulated; returns whether it is."""
    global _warned
    if _this_cpu().native:
        return False
    if not _warned:
        _warned = True
        warnings.warn("bf16 on this CPU is emulated (no AMX-BF16 or AVX512-BF16 instructions): "
                      "expect it to be slower than fp32", StarposeWarning, stacklevel=3)
    return True


__all__ = ["Bf16Support", "NATIVE_BF16_FLAGS", "bf16_support", "cpu_flags", "warn_if_emulated"]
