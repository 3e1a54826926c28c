"""Seeded fuzzing of every file reader: one table row per reader, one line each.

A row of :data:`READERS` is ``Reader(name, make_valid, load)``: ``make_valid(folder) -> Path``
writes a small valid file (or folder entry) and ``load(path)`` reads it the way starpose does.
Each case copies the valid file, applies one seeded mutation (:data:`MUTATIONS`) and loads it.
The outcome must be a load or a :class:`StarposeError` with a one-line message; any other
exception, a case over :data:`CASE_SECONDS` or memory over :func:`memory_allowance` is a defect.
To fuzz a new reader, append one ``Reader(...)`` row.

Memory is measured twice. ``tracemalloc`` sees every Python and numpy allocation, also one
never touched (numpy and CPython report theirs to it), but not torch's or zlib's native ones.
The process's resident high-water mark (``ru_maxrss``) sees everything touched: a case that
raises it by more than the allowance is a defect too. The mark only rises, so this check misses
a case that stays below an earlier peak (the first cases after start-up set it); it costs one
``getrusage`` call per case, where a process per case would cost a fork.
"""
from __future__ import annotations

import io
import random
import resource
import signal
import time
import tracemalloc
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from starpose.errors import StarposeError

CASE_SECONDS = 5.0


@dataclass
class Reader:
    name: str
    make_valid: Callable[[Path], Path]
    load: Callable[[Path], object]


@dataclass
class Tally:
    cases: int = 0
    loaded: int = 0
    refused: int = 0
    defects: list[str] = field(default_factory=list)
    slowest: float = 0.0
    traced_peak: int = 0  # largest tracemalloc peak of one case, bytes
    rss_growth: int = 0  # largest rise of the resident high-water mark in one case, bytes
    rss_peak: int = 0  # the process's resident high-water mark after the cases, bytes


# ----------------------------------------------------------------------------- mutations
NUMBERS = (b"NaN", b"Infinity", b"-Infinity", b"1e999", b"99999999999999999999", b"-1", b"0", b"1e-320",
           b"\"x\"", b"null", b"[]", b"{}", b"true")


def truncate(data: bytes, rng: random.Random) -> bytes:
    return data[: rng.randrange(len(data))] if data else data


def flip_bytes(data: bytes, rng: random.Random) -> bytes:
    out = bytearray(data)
    for _ in range(rng.randint(1, 8)):
        if out:
            out[rng.randrange(len(out))] ^= 1 << rng.randrange(8)
    return bytes(out)


def insert_range(data: bytes, rng: random.Random) -> bytes:
    at = rng.randrange(len(data) + 1)
    junk = bytes(rng.randrange(256) for _ in range(rng.randint(1, 64)))
    return data[:at] + junk + data[at:]


def delete_range(data: bytes, rng: random.Random) -> bytes:
    if not data:
        return data
    at = rng.randrange(len(data))
    return data[:at] + data[at + rng.randint(1, 64):]


def duplicate_range(data: bytes, rng: random.Random) -> bytes:
    if not data:
        return data
    at = rng.randrange(len(data))
    piece = data[at: at + rng.randint(1, 256)]
    return data[:at] + piece * rng.randint(2, 50) + data[at:]


def swap_number(data: bytes, rng: random.Random) -> bytes:
    """Text formats: a number becomes NaN, Inf, a huge or negative value, or another type."""
    starts = [i for i in range(len(data)) if data[i:i + 1].isdigit() and (i == 0 or not data[i - 1:i].isdigit())]
    if not starts:
        return flip_bytes(data, rng)
    at = rng.choice(starts)
    end = at
    while end < len(data) and data[end:end + 1] in b"0123456789.e-":
        end += 1
    return data[:at] + rng.choice(NUMBERS) + data[end:]


def deep_nesting(data: bytes, rng: random.Random) -> bytes:
    depth = rng.choice((100, 5000, 100000))
    if data.lstrip()[:1] in (b"[", b"{"):
        return b"[" * depth + data + b"]" * depth
    return data[: len(data) // 2] + b"[" * depth + data[len(data) // 2:]


def huge_declared_shape(data: bytes, rng: random.Random) -> bytes:
    """npy headers: a shape entry made enormous (the file cannot hold such an array)."""
    key = b"'shape': ("
    at = data.find(key)
    if at < 0:
        return duplicate_range(data, rng)
    at += len(key)
    return data[:at] + rng.choice((b"999999999999, ", b"4611686018427387904, ", b"-5, ")) + data[at:]


def swap_dtype(data: bytes, rng: random.Random) -> bytes:
    key = b"'descr': '"
    at = data.find(key)
    if at < 0:
        return flip_bytes(data, rng)
    at += len(key)
    end = data.find(b"'", at)
    return data[:at] + rng.choice((b"|O", b"<c16", b"|b1", b"<U4", b"|V7", b">f8", b"<i8", b"|S3")) + data[end:]


BYTE_MUTATIONS = (truncate, flip_bytes, insert_range, delete_range, duplicate_range, swap_number,
                  deep_nesting, huge_declared_shape, swap_dtype)


def in_members(data: bytes, rng: random.Random) -> bytes:
    """Zip files (npz, torch): mutate one member and rebuild the archive with valid CRCs, so
    the mutation reaches the member's parser rather than the zip checksum."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as src:
            members = [(info.filename, src.read(info)) for info in src.infolist()]
    except (zipfile.BadZipFile, OSError, ValueError, EOFError):
        return flip_bytes(data, rng)
    if not members:
        return data
    pick = rng.randrange(len(members))
    name, content = members[pick]
    members[pick] = (name, rng.choice(BYTE_MUTATIONS)(content, rng))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as dst:
        for name, content in members:
            dst.writestr(name, content)
    return out.getvalue()


MUTATIONS = BYTE_MUTATIONS + (in_members, in_members, in_members)


# ----------------------------------------------------------------------------- running
class Hang(Exception):
    pass


def _alarm(_signum, _frame):
    raise Hang


def memory_allowance(size: int) -> int:
    """Bytes a reader may allocate for a file of ``size`` bytes: generous (decoding, float
    conversion, copies), but bounded by the file; a declared size cannot buy more."""
    return 64 * 2**20 + 200 * size


def max_rss() -> int:
    """This process's resident high-water mark in bytes (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def mutate(path: Path, original: bytes, rng: random.Random) -> str:
    mutation = rng.choice(MUTATIONS)
    path.write_bytes(mutation(original, rng))
    return mutation.__name__


def run_case(reader: Reader, path: Path, original: bytes, seed: int, tally: Tally) -> None:
    rng = random.Random(seed)
    what = mutate(path, original, rng)
    size = path.stat().st_size
    if not tracemalloc.is_tracing():
        tracemalloc.start()
    # Peak from here on, over what is held now (a failed allocation is never traced). Not a
    # stop() and start() per case: that leaked about 11 KiB of resident memory per case.
    tracemalloc.reset_peak()
    held = tracemalloc.get_traced_memory()[0]
    previous = signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, 4 * CASE_SECONDS)
    rss_before = max_rss()
    begin = time.perf_counter()
    try:
        reader.load(path)
        tally.loaded += 1
    except StarposeError as err:
        tally.refused += 1
        if "\n" in str(err).strip() or not str(err).strip():
            tally.defects.append(f"{reader.name} seed {seed} ({what}): message not one line: {str(err)!r}")
    except Hang:
        tally.defects.append(f"{reader.name} seed {seed} ({what}): hangs")
    except BaseException as err:  # noqa: BLE001 - exactly what the fuzzer looks for
        if isinstance(err, KeyboardInterrupt):
            raise
        tally.defects.append(f"{reader.name} seed {seed} ({what}): {type(err).__name__}: {str(err)[:200]}")
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    seconds = time.perf_counter() - begin
    tally.slowest = max(tally.slowest, seconds)
    tally.cases += 1
    if seconds > CASE_SECONDS:
        tally.defects.append(f"{reader.name} seed {seed} ({what}): took {seconds:.1f} s")
    peak, grown = tracemalloc.get_traced_memory()[1] - held, max_rss() - rss_before
    tally.traced_peak, tally.rss_growth = max(tally.traced_peak, peak), max(tally.rss_growth, grown)
    if peak > memory_allowance(size):
        tally.defects.append(f"{reader.name} seed {seed} ({what}): allocated {peak / 2**20:.0f} MiB for {size} bytes")
    if grown > memory_allowance(size):
        tally.defects.append(f"{reader.name} seed {seed} ({what}): resident memory grew {grown / 2**20:.0f} MiB "
                             f"for {size} bytes")


def fuzz(reader: Reader, folder: Path, cases: int, seed: int = 0) -> Tally:
    """Run ``cases`` seeded cases of ``reader`` in ``folder``; the valid file must load first."""
    valid = reader.make_valid(folder)
    reader.load(valid)
    original = valid.read_bytes()
    tally = Tally()
    started = tracemalloc.is_tracing()
    if not started:
        tracemalloc.start()
    try:
        for case in range(cases):
            run_case(reader, valid, original, seed * 1_000_003 + case, tally)
    finally:
        valid.write_bytes(original)
        if not started:
            tracemalloc.stop()
    tally.rss_peak = max_rss()
    return tally
