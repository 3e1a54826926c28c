"""Safe JSON reading for the keypoint readers, and the metadata several formats store alike.

:func:`read_json` maps every failure (missing, not UTF-8, not JSON, nested too deeply) to a
:class:`DataError` naming the file; :func:`number` does the same for one value;
:func:`size_from` and :func:`fps_from` find the image size and frame rate under their usual
spellings.
"""
from __future__ import annotations

import json
from pathlib import Path

from starpose.errors import DataError


def read_json(path) -> object:
    """Parsed JSON, or a :class:`DataError` naming the file and the problem."""
    path = Path(path)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DataError(f"{path}: no such file") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise DataError(f"{path}: not valid JSON ({err})") from None
    except RecursionError:
        raise DataError(f"{path}: JSON nested too deeply") from None
    except OSError as err:
        raise DataError(f"{path}: cannot read ({err.strerror or err})") from None


def number(value, what: str, path) -> float:
    """``value`` as a float (None -> NaN), or a DataError naming ``what``."""
    if value is None:
        return float("nan")
    try:
        return float(value)
    except (TypeError, ValueError):
        raise DataError(f"{path}: {what} is not a number: {value!r}") from None


def size_from(obj) -> tuple[float | None, float | None]:
    """Image width and height stored in a JSON object, if any (several spellings)."""
    if isinstance(obj, list):
        return (None, None)
    for wk, hk in (("width", "height"), ("image_width", "image_height"), ("w", "h")):
        if isinstance(obj.get(wk), (int, float)) and isinstance(obj.get(hk), (int, float)):
            return float(obj[wk]), float(obj[hk])
    size = obj.get("image_size")
    if isinstance(size, list) and len(size) == 2:
        return float(size[0]), float(size[1])
    for key in ("metadata", "video", "info", "images"):
        inner = obj.get(key)
        inner = inner[0] if isinstance(inner, list) and inner else inner
        if isinstance(inner, dict):
            found = size_from(inner)
            if found[0] is not None:
                return found
    return (None, None)


def fps_from(obj) -> float | None:
    """A positive frame rate stored in a JSON object, if any (several spellings)."""
    if isinstance(obj, dict):
        for key in ("fps", "frame_rate", "framerate"):
            if isinstance(obj.get(key), (int, float)) and obj[key] > 0:
                return float(obj[key])
        for key in ("metadata", "video", "info"):
            found = fps_from(obj.get(key))
            if found:
                return found
    return None

