"""Action names of imported clips, from their file names or a mapping file: :func:`take_actions`.

The Human3.6M loader groups takes by the first word of their name ("Walking 1" -> "Walking"),
so a take's name is its action word first, then what tells it apart from the other takes.

``auto``: the file name is cut into words at ``_`` and spaces; words that begin every file's
name (``dataset-1`` in ``dataset-1_walk_normal_001.bvh``) are dropped, unless that leaves a file
without a word of letters; the action is the first word made of letters only (``walk``), else
the first word; the rest follow it (``walk normal 001``). (``walk_far`` and ``walk_near``
together become ``far`` and ``near``: a shared first word tells no take apart.) ``stem``: the file name as it is,
``_`` read as a space (``dataset-1 walk normal 001``, grouped as ``dataset-1``). A JSON file
``{file: action}`` (keyed by the path as given, the file name or the name without extension)
names the action of each file; its words follow (``walk dataset-1 walk normal 001``).
"""
from __future__ import annotations

import json
import os
import re
from pathlib import Path

from starpose.datasets.h36m.files import action_group
from starpose.errors import DataError

#: The ways of naming actions besides a mapping file.
ACTION_SOURCES = ("auto", "stem")


def words(path) -> list[str]:
    """``dataset-1_walk_normal_001.bvh`` -> ``["dataset-1", "walk", "normal", "001"]``."""
    stem = Path(path).stem
    return [w for w in re.split(r"[_\s]+", stem) if w] or [stem]


def _common_prefix(lists: list[list[str]]) -> int:
    count = 0
    while all(len(ws) > count and ws[count] == lists[0][count] for ws in lists):
        count += 1
    return count


def auto_names(paths: list) -> list[str]:
    """Take names by the ``auto`` rule of the module docstring."""
    lists = [words(p) for p in paths]
    cut = _common_prefix(lists) if len(lists) > 1 else 0
    if any(not any(w.isalpha() for w in ws[cut:]) for ws in lists):
        cut = 0
    names = []
    for ws in lists:
        rest = ws[cut:]
        first = next((i for i, w in enumerate(rest) if w.isalpha()), 0)
        names.append(" ".join([rest[first]] + rest[:first] + rest[first + 1:]))
    return names


def _mapped_names(paths: list, mapping: str | os.PathLike) -> list[str]:
    mapping = Path(mapping)
    try:
        table = json.loads(mapping.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise DataError(f"{mapping}: not a readable JSON action mapping ({err})") from None
    if not isinstance(table, dict) or not all(isinstance(v, str) and v.split() for v in table.values()):
        raise DataError(f"{mapping}: expected a JSON object {{file: action}} with non-empty actions")
    names = []
    for path in paths:
        action = next((table[k] for k in (str(path), Path(path).name, Path(path).stem) if k in table), None)
        if action is None:
            raise DataError(f"{mapping}: no action for {path}")
        names.append(" ".join(action.split() + words(path)))
    return names


def take_actions(paths: list, source: str = "auto") -> list[str]:
    """The take name of each path: ``source`` is ``auto``, ``stem`` or a JSON mapping file."""
    if source == "auto":
        return auto_names(paths)
    if source == "stem":
        return [" ".join(words(p)) for p in paths]
    return _mapped_names(paths, source)


__all__ = ["ACTION_SOURCES", "action_group", "auto_names", "take_actions", "words"]
