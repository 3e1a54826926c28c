"""Native bf16 detection from the CPU flags and the once-per-process emulation warning."""
import warnings

import pytest
import torch

from starpose.inference import cpu_features
from starpose.inference.cpu_features import Bf16Support, bf16_support, cpu_flags
from starpose.errors import StarposeWarning
from starpose.inference.predictors import autocast

CPUINFO = """processor\t: 0
model name\t: Some CPU
flags\t\t: fpu sse2 avx2 avx512f avx512_bf16 avx512_vnni
"""


def test_flags_are_read_from_the_cpuinfo_flags_line():
    assert {"avx512f", "avx512_bf16"} <= cpu_flags(CPUINFO)
    assert "fpu" in cpu_flags(CPUINFO) and "model" not in cpu_flags(CPUINFO)


@pytest.mark.parametrize("flags, native, via", [
    ({"avx2", "avx512f"}, False, ""),
    ({"avx512f", "avx512_bf16"}, True, "AVX512-BF16"),
    ({"avx512_bf16", "amx_bf16", "amx_tile"}, True, "AMX-BF16"),
])
def test_native_bf16_needs_amx_or_avx512_bf16(flags, native, via):
    support = bf16_support(frozenset(flags))
    assert (support.native, support.via) == (native, via)
    assert support.capability == torch.backends.cpu.get_cpu_capability()
    assert ("native" in support.describe()) == native and ("emulated" in support.describe()) != native


def test_this_machine_is_described():
    assert bf16_support().describe().startswith("bf16 ")


def test_emulated_bf16_warns_once_and_native_never(monkeypatch):
    monkeypatch.setattr(cpu_features, "_warned", False)
    monkeypatch.setattr(cpu_features, "_this_cpu", lambda: Bf16Support(False, "", "AVX2"))
    with pytest.warns(StarposeWarning, match="emulated"):
        with autocast(torch.device("cpu"), "bf16"):
            pass
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with autocast(torch.device("cpu"), "bf16"):  # second time: silent
            pass
        monkeypatch.setattr(cpu_features, "_warned", False)
        monkeypatch.setattr(cpu_features, "_this_cpu", lambda: Bf16Support(True, "AMX-BF16", "AVX512"))
        assert cpu_features.warn_if_emulated() is False
        with autocast(torch.device("cpu"), None):  # fp32: nothing to say
            pass
