"""How the command line reads logs: a sessions ``.jsonl`` file (one record with an
``"events"`` list a line, optionally ``"id"``; a ``templates.csv`` beside it is used), or a
text log (any other suffix; one log line a line, bytes decoded as UTF-8 with invalid
sequences replaced, cut into consecutive windows of ``DEFAULT_WINDOW`` lines)."""

from __future__ import annotations

from pathlib import Path

from ..core.errors import InputError
from .input import DEFAULT_WINDOW
from .sessions import Sessions

MAX_LOG_BYTES = 2 << 30


def read(path: Path) -> Sessions:
    """The sessions in the file at ``path``."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path} is not a file")
    if path.stat().st_size > MAX_LOG_BYTES:
        raise InputError(f"{path} is larger than {MAX_LOG_BYTES} bytes; split it first")
    if path.suffix == ".jsonl":
        templates = path.parent / "templates.csv"
        return Sessions.from_jsonl(path, templates if templates.is_file() else None)
    with open(path, "rb") as handle:
        lines = [line.rstrip(b"\r\n") for line in handle]
    return Sessions.from_lines(lines, window=DEFAULT_WINDOW)
