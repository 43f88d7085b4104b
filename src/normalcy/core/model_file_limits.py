"""Bounded reading of untrusted zip archives and JSON documents.

A model file is hostile until proven otherwise, so reading one must cost memory and time
in proportion to the file, whatever its headers claim. ``read_zip_entries`` refuses a zip
whose entries are unexpected, duplicated, encrypted or compressed with anything but
stored/deflate, or whose declared sizes or compression ratio exceed the limits, *before*
inflating anything; it then inflates in bounded chunks and stops as soon as an entry
produces more than it declared (a zip bomb lies about its sizes). ``parse_json`` bounds a
document's size, nesting depth and integer length before ``json`` sees it. Every failure
is a ``ModelFileError``; no ``zlib.error``, ``RecursionError`` or ``ValueError`` escapes.

The ratio limit follows the zip-bomb analysis of Fifield, "A better zip bomb" (WOOT 2019):
deflate reaches ~1032:1 at most, ordinary arrays compress far less, so a ratio cap plus a
size cap bounds what a small file can make us allocate.
"""

from __future__ import annotations

import json
import os
import re
import stat
import zipfile
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from .errors import ModelFileError

MiB = 1 << 20
GiB = 1 << 30

# Entry-size caps (uncompressed bytes). Arrays hold the fitted state (memory banks can be
# large); everything else is small text.
MAX_ARRAYS_BYTES = 8 * GiB
MAX_MANIFEST_BYTES = 16 * MiB
MAX_SMALL_ENTRY_BYTES = 4096
# Above this size an entry may not inflate more than ``MAX_RATIO`` times its compressed size.
RATIO_FLOOR_BYTES = 1 * MiB
MAX_RATIO = 200
MAX_ENTRIES = 16
CHUNK_BYTES = 1 * MiB

# JSON documents: nesting depth and digits of an integer.
MAX_JSON_DEPTH = 64
MAX_INT_DIGITS = 40

SUPPORTED_COMPRESSION = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED)


@dataclass(frozen=True)
class EntryLimit:
    """What one zip entry may be: its largest uncompressed size, and whether it is needed."""

    max_bytes: int
    required: bool = True


def _fail(where: str, what: str) -> ModelFileError:
    return ModelFileError(f"{where}: {what}")


def check_zip_directory(
    zf: zipfile.ZipFile,
    entries: Mapping[str, EntryLimit],
    where: str,
    max_entries: int = MAX_ENTRIES,
) -> list[zipfile.ZipInfo]:
    """Refuse unexpected, duplicate, encrypted, oddly compressed or oversized entries.

    Looks only at the central directory; inflates nothing. Returns the entries to read.
    """
    infos = zf.infolist()
    if len(infos) > max_entries:
        raise _fail(where, f"the archive has {len(infos)} entries, expected at most {len(entries)}")
    names = [i.filename for i in infos]
    dupes = sorted(n for n, c in Counter(names).items() if c > 1)
    if dupes:
        raise _fail(where, f"the archive holds duplicate entries {dupes[:5]}")
    missing = sorted(n for n, lim in entries.items() if lim.required and n not in names)
    if missing:
        raise _fail(where, f"it lacks {missing}")
    extra = sorted(set(names) - set(entries))
    if extra:
        raise _fail(
            where, f"the archive holds unexpected entries {extra[:5]}; expected {sorted(entries)}"
        )
    for info in infos:
        name = info.filename
        if info.flag_bits & 0x1:
            raise _fail(where, f"entry {name!r} is encrypted; model files are never encrypted")
        if info.compress_type not in SUPPORTED_COMPRESSION:
            raise _fail(
                where,
                f"entry {name!r} uses compression method {info.compress_type}; only stored (0) "
                "and deflate (8) are read",
            )
        limit = entries[name].max_bytes
        if info.file_size > limit:
            raise _fail(
                where, f"entry {name!r} declares {info.file_size} bytes, more than {limit} allowed"
            )
        if info.file_size > RATIO_FLOOR_BYTES and info.file_size > MAX_RATIO * max(
            info.compress_size, 1
        ):
            raise _fail(
                where,
                f"entry {name!r} would inflate {info.compress_size} bytes to {info.file_size} "
                f"(ratio over {MAX_RATIO}); refusing a possible zip bomb",
            )
    total = sum(i.file_size for i in infos)
    packed = sum(i.compress_size for i in infos)
    if total > RATIO_FLOOR_BYTES and total > MAX_RATIO * max(packed, 1):
        raise _fail(
            where,
            f"the entries would inflate {packed} bytes to {total} (ratio over {MAX_RATIO}); "
            "refusing a possible zip bomb",
        )
    return infos


def read_entry(zf: zipfile.ZipFile, info: zipfile.ZipInfo, limit: int, where: str) -> bytes:
    """Inflate one entry in bounded chunks; never more than it declared, nor than ``limit``."""
    cap = min(info.file_size, limit)
    parts: list[bytes] = []
    total = 0
    with zf.open(info) as fh:
        while True:
            chunk = fh.read(min(CHUNK_BYTES, cap - total + 1))
            if not chunk:
                break
            total += len(chunk)
            if total > cap:
                raise _fail(
                    where, f"entry {info.filename!r} inflates to more than its declared size"
                )
            parts.append(chunk)
    if total != info.file_size:
        raise _fail(
            where, f"entry {info.filename!r} holds {total} bytes, it declared {info.file_size}"
        )
    return b"".join(parts)


def read_zip_entries(
    source: Any,
    entries: Mapping[str, EntryLimit],
    where: str,
    max_entries: int = MAX_ENTRIES,
    what: str = "a valid zip archive",
) -> dict[str, bytes]:
    """Read the named entries of the zip at ``source`` (a path or a binary file object).

    Raises ``ModelFileError`` for anything that is not a well-formed archive of exactly
    those entries within their limits.
    """
    try:
        with zipfile.ZipFile(source) as zf:
            infos = check_zip_directory(zf, entries, where, max_entries)
            return {
                i.filename: read_entry(zf, i, entries[i.filename].max_bytes, where) for i in infos
            }
    except ModelFileError:
        raise
    except zipfile.BadZipFile as exc:
        raise ModelFileError(f"{where} is not {what}, or it is truncated ({exc})") from None
    except MemoryError:
        raise _fail(where, "reading it ran out of memory") from None
    except Exception as exc:  # zlib.error, EOFError, struct.error, OSError, ... from bytes
        raise _fail(
            where,
            f"the archive could not be read, it may be truncated or damaged "
            f"({type(exc).__name__}: {exc})",
        ) from None


_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_OPEN = frozenset(b"[{")
_CLOSE = frozenset(b"]}")


def json_depth(data: bytes) -> int:
    """Deepest nesting of arrays/objects in a JSON text (brackets inside strings ignored)."""
    bare = np.frombuffer(_STRING.sub(b'""', data), dtype=np.uint8)
    opens = (bare == ord("[")) | (bare == ord("{"))
    closes = (bare == ord("]")) | (bare == ord("}"))
    where = np.flatnonzero(opens | closes)
    if where.size == 0:
        return 0
    steps = np.where(opens[where], 1, -1).astype(np.int64)
    return int(np.cumsum(steps).max())


def _bounded_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INT_DIGITS:
        raise ValueError(f"an integer has {len(text)} digits, more than {MAX_INT_DIGITS}")
    return int(text)


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out = dict(pairs)
    if len(out) != len(pairs):
        dupes = sorted(k for k, n in Counter(k for k, _ in pairs).items() if n > 1)
        raise ValueError(f"duplicate keys {dupes[:5]} (readers could disagree on the value)")
    return out


def parse_json(data: bytes, where: str, max_bytes: int = MAX_MANIFEST_BYTES) -> Any:
    """Parse an untrusted JSON document with bounded size, depth and integer length, and
    no duplicate keys."""
    if len(data) > max_bytes:
        raise _fail(where, f"{len(data)} bytes of JSON, more than {max_bytes} allowed")
    depth = json_depth(data)
    if depth > MAX_JSON_DEPTH:
        raise _fail(where, f"JSON nested {depth} deep, more than {MAX_JSON_DEPTH} allowed")
    try:
        text = data.decode("utf-8")
        return json.loads(text, parse_int=_bounded_int, object_pairs_hook=_unique_keys)
    except UnicodeDecodeError as exc:
        raise _fail(where, f"not UTF-8 text ({exc})") from None
    except (ValueError, RecursionError) as exc:  # JSONDecodeError is a ValueError
        raise _fail(where, f"not valid JSON ({exc})") from None


def open_regular_file(path: str | Path) -> BinaryIO:
    """Open ``path`` for reading if it is a regular file (symlinks followed).

    A device, FIFO or folder is refused without blocking: the file is opened non-blocking
    and checked with ``fstat`` on the open descriptor, so it cannot be swapped in between.
    """
    path = Path(path)
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except FileNotFoundError:
        raise ModelFileError(f"model file {path} does not exist") from None
    except OSError as exc:
        raise ModelFileError(f"model file {path} could not be opened ({exc})") from None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise ModelFileError(
                f"{path} is not a regular file (a device, pipe or folder); model files are "
                "plain files"
            )
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise
