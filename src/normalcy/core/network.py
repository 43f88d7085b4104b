"""Whether code may download anything right now (pretrained weights from a hub).

Loading a model file must never touch the network: ``nc.load`` builds the detector inside
``downloads_allowed(False)`` and marks it, so that a backbone built lazily at score time
is refused too, unless the user passed ``allow_download=True``. Code that would download
calls ``require_download(what)`` first. A detector made with ``nc.create`` is unmarked and
may download.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from .errors import ModelFileError

_ALLOWED: ContextVar[bool] = ContextVar("normalcy_downloads_allowed", default=True)
# Instance attribute set on detectors built from a model file.
ATTRIBUTE = "_downloads_allowed_"


class DownloadRefusedError(ModelFileError):
    """A detector loaded from a model file asked to download, and that was not allowed."""


@contextmanager
def downloads_allowed(allowed: bool) -> Iterator[None]:
    """Within this block, downloads are allowed only if ``allowed`` (and the outer block allows)."""
    token = _ALLOWED.set(_ALLOWED.get() and bool(allowed))
    try:
        yield
    finally:
        _ALLOWED.reset(token)


def policy_of(detector: Any):
    """The download policy of ``detector``, as a context manager for its fit/score calls."""
    return downloads_allowed(getattr(detector, ATTRIBUTE, True))


def mark(detector: Any, allowed: bool) -> None:
    """Remember on ``detector`` whether it may download (set by ``nc.load``)."""
    setattr(detector, ATTRIBUTE, bool(allowed))


def require_download(what: str) -> None:
    """Raise ``DownloadRefusedError`` if downloading ``what`` is not allowed here."""
    if not _ALLOWED.get():
        raise DownloadRefusedError(
            f"{what} would be downloaded, but this detector comes from a model file and "
            "loading a model file never touches the network; load it with "
            "nc.load(path, allow_download=True) if you trust it, or use an offline backbone"
        )
