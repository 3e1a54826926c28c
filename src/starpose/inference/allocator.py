"""Keep freed memory in the process: no page faults on the next forward's buffers.

glibc's ``malloc`` serves blocks above a threshold with ``mmap`` and unmaps them on ``free``;
below it, from the heap, whose free top it hands back to the kernel above a second threshold.
Both thresholds move with the program's history, so whether a forward pass's multi-megabyte
temporaries (``qkv``, logits, head-major copies) come back as warm memory or as fresh pages
that the kernel must fault in and zero depends on what ran before in the process. Measured on
the 2-core Xeon, the small configuration (27 frames, width 128, batch 16, one thread), in
separate processes: starpose's forward 117 ms with no page faults, 125 ms with 7,000-17,000 per
call; the published forward 137 ms vs 150-240 ms.

:func:`keep_freed_memory` fixes both thresholds (``mallopt``): blocks under
:data:`MMAP_THRESHOLD` come from the heap and go back to it, and the heap's free top is handed
back only beyond :data:`TRIM_THRESHOLD`. The commands that run models call it (``lift``,
``evaluate``, ``train``, ``demo``, ``bench``); the library does not, as it changes the whole
process. Elsewhere than glibc it does nothing.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import platform

#: Blocks at least this large are mapped and unmapped on their own (mallopt M_MMAP_THRESHOLD).
MMAP_THRESHOLD = 64 * 2**20
#: The heap's free top beyond this goes back to the kernel (mallopt M_TRIM_THRESHOLD).
TRIM_THRESHOLD = 512 * 2**20

_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # glibc's malloc.h


def keep_freed_memory() -> bool:
    """Fix glibc's thresholds (see the module docstring); False where that is not possible."""
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return bool(libc.mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(libc.mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD))
    except (OSError, AttributeError):
        return False


__all__ = ["MMAP_THRESHOLD", "TRIM_THRESHOLD", "keep_freed_memory"]
