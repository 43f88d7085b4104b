"""Keep long feature-extraction loops from growing the heap (glibc only).

Streaming thousands of images through a backbone interleaves short-lived buffers of a few
hundred kilobytes to tens of megabytes (activations) with long-lived small arrays (cached
features, sampled patches). Under glibc's dynamic mmap threshold the buffers come from the
heap, and the long-lived arrays pin its pages: freed memory stays resident. Fitting
PatchCore on 5,000 images from a folder peaked at 5.1 GB although the detector's own data
(feature cache, patch reservoir) stays under 1 GB. ``malloc_trim(0)`` every few batches
hands the free pages back to the system: on 1,500 images peak RSS fell from 1.9 GB to 1.1
GB for about 6 % more fit time (a fixed 256 KiB mmap threshold also bounds it, at 28 %).
Elsewhere (macOS, Windows, musl) this is a no-op.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys
from collections.abc import Callable
from functools import lru_cache

TRIM_EVERY = 16  # batches between two trims


@lru_cache(maxsize=1)
def _malloc_trim() -> Callable[[int], int] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        trim = libc.malloc_trim
    except (OSError, AttributeError):  # not glibc
        return None
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    return trim


def release_free_heap() -> bool:
    """Return the heap's free pages to the system; True when glibc did so."""
    trim = _malloc_trim()
    return bool(trim(0)) if trim is not None else False
