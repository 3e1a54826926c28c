"""Resident memory of this process, read from ``/proc/self/status`` (Linux)."""
from __future__ import annotations

from pathlib import Path


def rss_bytes(field: str) -> int | None:
    """``VmRSS`` / ``VmHWM`` of this process in bytes (Linux), or None."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None
