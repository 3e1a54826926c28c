"""Reading BVH motion-capture files: the hierarchy, the channels and the motion table.

The whole format is accepted: any hierarchy, any channel order per joint (``Zrotation Xrotation
Yrotation``, ``Xposition ... Yrotation``), position channels on any joint, End Sites, CRLF line
ends, tabs and runs of spaces. End Sites become joints without channels (named
``<parent>.End``), so their positions come out of forward kinematics like any other joint's.

Every problem (a missing MOTION section, a value that is not a number, a frame count that does
not match the table, a zero ``Frame Time``, fewer values on a line than the channels declare)
raises :class:`starpose.errors.DataError` with one line naming the file and the problem.
"""
from __future__ import annotations

import itertools
import math
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from starpose.errors import DataError

CHANNEL_NAMES = ("Xposition", "Yposition", "Zposition", "Xrotation", "Yrotation", "Zrotation")
_CANONICAL = {name.lower(): name for name in CHANNEL_NAMES}
_TOKEN = re.compile(r"\S+")
_MOTION = re.compile(r"^[ \t]*MOTION\b", re.MULTILINE | re.IGNORECASE)
_FRAMES = re.compile(r"^\s*Frames\s*:\s*(\S+)\s*$", re.IGNORECASE)
_FRAME_TIME = re.compile(r"^\s*Frame\s+Time\s*:\s*(\S+)\s*$", re.IGNORECASE)


@dataclass(frozen=True, eq=False)
class BvhClip:
    """A parsed BVH file. Joints are in file order, so a parent always precedes its children.

    ``offsets`` (J, 3) in file units; ``channels[j]`` the channel names of joint j (canonical
    spelling, e.g. ``"Zrotation"``); ``motion`` (T, C) the channel values, degrees for
    rotations; ``frame_time`` seconds per frame.
    """

    names: tuple[str, ...]
    parents: tuple[int, ...]
    offsets: np.ndarray
    channels: tuple[tuple[str, ...], ...]
    end_site: tuple[bool, ...]
    motion: np.ndarray
    frame_time: float
    path: str = "<bvh>"

    @property
    def num_frames(self) -> int:
        return len(self.motion)

    @property
    def fps(self) -> float:
        return 1.0 / self.frame_time

    @property
    def channel_starts(self) -> tuple[int, ...]:
        """Column of ``motion`` where each joint's channels start."""
        starts, column = [], 0
        for names in self.channels:
            starts.append(column)
            column += len(names)
        return tuple(starts)

    def children(self, joint: int) -> list[int]:
        return [j for j, p in enumerate(self.parents) if p == joint]


def read_bvh(path) -> BvhClip:
    """Read and check a BVH file (see the module docstring)."""
    path = Path(path)
    try:
        text = path.read_bytes().decode("utf-8", errors="replace")
    except OSError as err:
        raise DataError(f"{path}: cannot read ({err.strerror or err})") from None
    return parse_bvh(text, str(path))


def parse_bvh(text: str, path: str = "<bvh>") -> BvhClip:
    """Parse BVH ``text``; ``path`` names the source in error messages."""
    match = _MOTION.search(text)
    if match is None:
        raise DataError(f"{path}: no MOTION section (not a complete BVH file)")
    header_lines = text.count("\n", 0, match.start())
    hierarchy = _parse_hierarchy(text[:match.start()], path)
    motion, frame_time = _parse_motion(text[match.end():], header_lines, hierarchy, path)
    names, parents, offsets, channels, end_site = hierarchy
    return BvhClip(tuple(names), tuple(parents), np.asarray(offsets, np.float64),
                   tuple(channels), tuple(end_site), motion, frame_time, path)


class _Tokens:
    """The hierarchy's tokens with their positions, for messages that name the line."""

    def __init__(self, text: str, path: str):
        self.text, self.path = text, path
        self.items = [(m.group(), m.start()) for m in _TOKEN.finditer(text)]
        self.index = 0

    def line(self, index: int | None = None) -> int:
        index = min(self.index if index is None else index, len(self.items) - 1)
        offset = self.items[index][1] if self.items else 0
        return self.text.count("\n", 0, offset) + 1

    def fail(self, message: str, index: int | None = None):
        raise DataError(f"{self.path}: line {self.line(index)}: {message}")

    def next(self, what: str) -> str:
        if self.index >= len(self.items):
            raise DataError(f"{self.path}: the hierarchy ends early (expected {what})")
        token = self.items[self.index][0]
        self.index += 1
        return token

    def number(self, what: str) -> float:
        token = self.next(what)
        try:
            value = float(token)
        except ValueError:
            self.fail(f"expected {what}, got '{token[:40]}'", self.index - 1)
        if not math.isfinite(value):
            self.fail(f"{what} is not finite ('{token[:40]}')", self.index - 1)
        return value


def _parse_hierarchy(text: str, path: str):
    tokens = _Tokens(text, path)
    if tokens.next("HIERARCHY").upper() != "HIERARCHY":
        tokens.fail("expected HIERARCHY at the start of the file", 0)
    names, parents, offsets, channels, end_site = [], [], [], [], []
    stack: list[int] = []
    while tokens.index < len(tokens.items):
        word = tokens.next("a keyword")
        key = word.upper()
        if key in ("ROOT", "JOINT", "END"):
            if (key == "ROOT") != (not stack) or (key == "ROOT" and names):
                tokens.fail(f"{word} in the wrong place", tokens.index - 1)
            if key == "END":
                if tokens.next("Site").upper() != "SITE":
                    tokens.fail("expected 'End Site'", tokens.index - 1)
                name = f"{names[stack[-1]]}.End"
            else:
                name = tokens.next("a joint name")
            if tokens.next("{") != "{":
                tokens.fail(f"expected '{{' after {name}", tokens.index - 1)
            names.append(name)
            parents.append(stack[-1] if stack else -1)
            offsets.append(None)
            channels.append(())
            end_site.append(key == "END")
            stack.append(len(names) - 1)
        elif key == "OFFSET" and stack:
            offsets[stack[-1]] = [tokens.number("an OFFSET value") for _ in range(3)]
        elif key == "CHANNELS" and stack and not end_site[stack[-1]]:
            channels[stack[-1]] = _read_channels(tokens)
        elif word == "}" and stack:
            joint = stack.pop()
            if offsets[joint] is None:
                tokens.fail(f"joint '{names[joint]}' has no OFFSET", tokens.index - 1)
        else:
            tokens.fail(f"unexpected '{word[:40]}' in the hierarchy", tokens.index - 1)
    if stack or not names:
        raise DataError(f"{path}: the hierarchy is incomplete (unclosed '{{' or no ROOT)")
    return names, parents, offsets, channels, end_site


def _read_channels(tokens: _Tokens) -> tuple[str, ...]:
    token = tokens.next("a channel count")
    if not token.isdigit() or int(token) > 6:
        tokens.fail(f"bad channel count '{token[:40]}' (expected 0 to 6)", tokens.index - 1)
    found = []
    for _ in range(int(token)):
        name = tokens.next("a channel name")
        canonical = _CANONICAL.get(name.lower())
        if canonical is None or canonical in found:
            tokens.fail(f"bad or repeated channel '{name[:40]}'", tokens.index - 1)
        found.append(canonical)
    return tuple(found)


def _parse_motion(text: str, line0: int, hierarchy, path: str):
    """The motion table after the MOTION keyword: (T, C) values and the frame time."""
    lines = text.splitlines()
    header = [(i, line) for i, line in enumerate(lines) if line.strip()][:3]
    # The first non-empty line may be the rest of the MOTION line; it must then be empty.
    if len(header) < 2:
        raise DataError(f"{path}: the MOTION section has no 'Frames:' and 'Frame Time:' lines")
    (i_frames, frames_line), (i_time, time_line) = header[0], header[1]
    frames_match, time_match = _FRAMES.match(frames_line), _FRAME_TIME.match(time_line)
    if frames_match is None or time_match is None:
        raise DataError(f"{path}: line {line0 + i_frames + 1}: expected 'Frames: N' and then "
                        "'Frame Time: SECONDS'")
    frames = _header_number(frames_match.group(1), int, path, line0 + i_frames + 1, "Frames")
    frame_time = _header_number(time_match.group(1), float, path, line0 + i_time + 1,
                                "Frame Time")
    if frames < 1:
        raise DataError(f"{path}: the file declares {frames} frames (no motion)")
    if not (math.isfinite(frame_time) and frame_time > 0):
        raise DataError(f"{path}: Frame Time must be a positive number of seconds, "
                        f"got {time_match.group(1)[:40]}")
    data_index = [i for i in range(i_time + 1, len(lines)) if lines[i].strip()]
    if len(data_index) != frames:
        raise DataError(f"{path}: 'Frames: {frames}' but the motion table has "
                        f"{len(data_index)} lines")
    width = sum(len(c) for c in hierarchy[3])
    return _motion_values([lines[i] for i in data_index], data_index, width, line0, path), \
        frame_time


def _header_number(token: str, kind, path: str, line: int, what: str):
    try:
        return kind(token)
    except ValueError:
        raise DataError(f"{path}: line {line}: {what} is not a number ('{token[:40]}')") from None


def _motion_values(rows: list[str], line_index: list[int], width: int, line0: int,
                   path: str) -> np.ndarray:
    """(T, width) float64 from the table's lines, checking every line's count and values."""
    split = [row.split() for row in rows]
    counts = np.fromiter(map(len, split), dtype=np.int64, count=len(split))
    bad = np.flatnonzero(counts != width)
    if len(bad):
        k = int(bad[0])
        raise DataError(f"{path}: line {line0 + line_index[k] + 1}: frame {k} has {counts[k]} "
                        f"values but the hierarchy declares {width} channels")
    try:
        values = np.fromiter(map(float, itertools.chain.from_iterable(split)), np.float64,
                             count=len(rows) * width).reshape(len(rows), width)
    except ValueError:
        k, token = next((k, v) for k, row in enumerate(split) for v in row if not _is_float(v))
        raise DataError(f"{path}: line {line0 + line_index[k] + 1}: '{token[:40]}' is not "
                        "a number") from None
    if not np.isfinite(values).all():
        k = int(np.flatnonzero(~np.isfinite(values).all(1))[0])
        raise DataError(f"{path}: line {line0 + line_index[k] + 1}: NaN or infinite value")
    return values


def _is_float(token: str) -> bool:
    try:
        float(token)
    except ValueError:
        return False
    return True
