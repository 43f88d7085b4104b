"""Validation of image input: a folder, paths, PIL images or arrays, read lazily in batches.

Accepted: a folder (its image files, sorted by name), a single file, a list of paths or
PIL images or (H, W[, C]) arrays, or an array (N, H, W[, C]) of uint8, uint16 or float in
[0, 1]. Grayscale becomes 3 channels; an alpha channel is
dropped. Files and PIL images in any mode PIL reads are accepted: 16-bit grayscale is scaled
from 0-65535, CMYK and palette images (with or without transparency) are converted to RGB,
1-bit images to 0/255. A file larger than ``MAX_IMAGE_PIXELS`` (a decompression bomb), or
one that cannot be decoded (corrupted, truncated), is an ``InputError`` naming the file.

Mixed sizes policy (``ImageDetector.on_mixed_sizes``): with ``"own"`` (default) every image
is scored at, and gets its anomaly map at, its own height x width: ``ImageDetector.score``
scores each group of equally sized images on its own and returns ``Scores.maps`` as one
array when all sizes agree, a list of (H_i, W_i) arrays otherwise (detectors that score a
batch jointly, such as MuSc, compute at the first image's size and have each map resized
back to its image's size). With ``"resize"`` (the behaviour before ``"own"``) every image
and map is brought to the first image's size; with ``"error"`` mixed sizes are an
``InputError``. ``ImageSource.output_size`` gives the size a detector's ``_score`` works at.

Folders: ``as_images(folder, recursive=True, pattern="**/*.png")`` selects files below the
folder (see ``list_image_files``): sorted by their path relative to the folder, named by it
(``"sub/a.png"``), hidden files and folders (``.name``) skipped, files whose suffix is not an
image suffix skipped, symbolic links followed but each real folder visited once (a link loop
ends there).
"""

from __future__ import annotations

import contextlib
import os
import re
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from ..core.errors import InputError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".pgm", ".ppm")
MIN_IMAGE_SIDE = 8
# Largest image file read, in pixels (about 9459 x 9459): PIL's decompression-bomb level, at
# which it warns (here: refuses). A file claiming more is refused before it is decoded.
MAX_IMAGE_PIXELS = 89_478_485
MIXED_SIZE_POLICIES = ("own", "resize", "error")


class ImageTooLargeError(InputError):
    """An image with more pixels than can be read safely (a decompression bomb, or simply
    too large); the service answers it with 413 instead of 422."""


def _check_area(h: int, w: int, what: str) -> None:
    """Refuse an image of more than ``MAX_IMAGE_PIXELS`` pixels before anything is allocated
    for it (a huge strided view costs nothing to make and gigabytes to convert)."""
    if int(h) * int(w) > MAX_IMAGE_PIXELS:
        raise ImageTooLargeError(
            f"{what} is {h}x{w} pixels, more than the limit of {MAX_IMAGE_PIXELS}; "
            "downscale or tile it first"
        )


def _check_pixels(arr: np.ndarray, what: str) -> None:
    """Reject dtypes other than uint8/uint16/float, and floats outside [0, 1] or not finite;
    the message says what the values were and how to convert them."""
    if arr.dtype in (np.uint8, np.uint16):
        return
    if arr.size == 0:
        raise InputError(f"{what} is empty (shape {arr.shape}); expected pixels")
    if arr.dtype.kind in "iub":
        lo, hi = int(arr.min()), int(arr.max())
        hint = (
            "convert it with .astype(np.uint8)"
            if 0 <= lo and hi <= 255
            else "integer pixels must lie in [0, 255] (uint8) or [0, 65535] (uint16)"
        )
        raise InputError(
            f"{what} has dtype {arr.dtype} with values in [{lo}, {hi}]; expected uint8, uint16 "
            f"or float in [0, 1] ({hint})"
        )
    if arr.dtype.kind != "f":
        raise InputError(f"{what} has dtype {arr.dtype}; expected uint8, uint16 or float in [0, 1]")
    if not np.all(np.isfinite(arr)):
        raise InputError(f"{what} contains NaN or infinite pixel values; expected finite values")
    lo, hi = float(arr.min()), float(arr.max())
    if lo < -1e-6 or hi > 1.0 + 1e-6:
        raise InputError(
            f"{what} is float with values in [{lo:.3g}, {hi:.3g}]; expected floats in [0, 1] "
            "(or uint8 0-255)"
        )


def _array_to_float(arr: np.ndarray, what: str) -> np.ndarray:
    """uint8/uint16 → [0, 1]; floats must already lie in [0, 1]; anything else is rejected."""
    _check_pixels(arr, what)
    return _checked_to_float(arr)


def _checked_to_float(arr: np.ndarray) -> np.ndarray:
    """``_array_to_float`` for pixels ``_check_pixels`` has already accepted."""
    if arr.dtype.kind == "u":
        out = arr.astype(np.float32)
        out /= np.float32(np.iinfo(arr.dtype).max)
        return out
    return np.clip(arr, 0.0, 1.0).astype(np.float32)


class _ArrayImage(NamedTuple):
    """Image ``index`` of a validated (N, H, W[, C]) array, converted to float when read
    (the whole array was checked once by ``as_images``)."""

    array: np.ndarray
    index: int
    what: str

    def read(self) -> np.ndarray:
        return _to_rgb(_checked_to_float(self.array[self.index]), self.what)


def _to_rgb(arr: np.ndarray, what: str) -> np.ndarray:
    if arr.ndim == 2:
        arr = arr[:, :, None]
    if arr.ndim != 3 or arr.shape[2] not in (1, 3, 4):
        raise InputError(
            f"{what} has shape {arr.shape}; expected (H, W), (H, W, 1), (H, W, 3) or (H, W, 4)"
        )
    if arr.shape[2] == 1:
        arr = np.repeat(arr, 3, axis=2)
    elif arr.shape[2] == 4:
        arr = arr[:, :, :3]
    h, w = arr.shape[:2]
    if min(h, w) < MIN_IMAGE_SIDE:
        raise InputError(
            f"{what} is {h}x{w} pixels; images must be at least {MIN_IMAGE_SIDE}x{MIN_IMAGE_SIDE}"
        )
    return arr


def resize_image(img: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Bilinear resize of an (H, W, C) float32 image to ``size`` = (H, W)."""
    if img.shape[:2] == tuple(size):
        return img
    from PIL import Image

    h, w = size
    channels = [
        np.asarray(Image.fromarray(img[:, :, c], mode="F").resize((w, h), Image.BILINEAR))
        for c in range(img.shape[2])
    ]
    return np.stack(channels, axis=2).astype(np.float32)


class ImageSource(Sequence):
    """A validated, lazily read collection of images. ``source[i]`` is (H, W, 3) float32."""

    def __init__(
        self,
        items: list[Any],
        names: list[str],
        sizes: list[tuple[int, int]],
        reference_size: tuple[int, int] | None = None,
    ):
        self._items = items
        self.names = names
        self.sizes = sizes
        # the size of the first image of a larger collection this one is part of (e.g. one
        # unit of a folder scored in pieces): the output size, instead of sizes[0]
        self.reference_size = None if reference_size is None else tuple(reference_size)

    def part_of(self, reference_size: tuple[int, int]) -> ImageSource:
        """These images as part of a collection whose first image has ``reference_size``:
        under ``on_mixed_sizes="resize"`` they (and their maps) come out at that size, as the
        whole collection would; under ``"own"`` every image keeps its size anyway."""
        return ImageSource(self._items, self.names, self.sizes, reference_size)

    def subset(self, indices: Sequence[int]) -> ImageSource:
        """The images at ``indices`` (in that order), read lazily as before."""
        idx = [int(i) for i in indices]
        return ImageSource(
            [self._items[i] for i in idx],
            [self.names[i] for i in idx],
            [self.sizes[i] for i in idx],
            self.reference_size,
        )

    def size_groups(self) -> list[np.ndarray]:
        """Indices of the images of each distinct size, in order of first appearance."""
        groups: dict[tuple[int, int], list[int]] = {}
        for i, size in enumerate(self.sizes):
            groups.setdefault(tuple(size), []).append(i)
        return [np.asarray(g, dtype=np.int64) for g in groups.values()]

    def __len__(self) -> int:
        return len(self._items)

    def __getitem__(self, i: int) -> np.ndarray:  # type: ignore[override]
        item = self._items[i]
        if isinstance(item, np.ndarray):
            return item
        if isinstance(item, _ArrayImage):
            return item.read()
        return _read_file(item) if isinstance(item, Path) else _from_pil(item, self.names[i])

    def output_size(self, on_mixed_sizes: str = "resize") -> tuple[int, int]:
        """The size every image (and map) is brought to, by the policy in the module doc."""
        if on_mixed_sizes not in MIXED_SIZE_POLICIES:
            raise InputError(
                f"on_mixed_sizes must be one of {MIXED_SIZE_POLICIES}, got {on_mixed_sizes!r}"
            )
        if on_mixed_sizes == "own":  # ImageDetector.score gives _score one size at a time
            return tuple(self.sizes[0])
        first = self.reference_size or self.sizes[0]
        distinct = sorted(set(self.sizes) | {first})
        if len(distinct) > 1 and on_mixed_sizes == "error":
            raise InputError(
                f"images have {len(distinct)} different sizes (e.g. {distinct[:3]}); expected one "
                "size, or set on_mixed_sizes='own' (each image at its own size) or 'resize'"
            )
        return first

    def batches(
        self, batch_size: int, size: tuple[int, int]
    ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Yield (indices, array (b, H, W, 3) float32) with every image resized to ``size``."""
        for start in range(0, len(self), batch_size):
            idx = np.arange(start, min(start + batch_size, len(self)))
            yield idx, np.stack([resize_image(self[int(i)], size) for i in idx])

    def load_all(self, size: tuple[int, int]) -> np.ndarray:
        """Every image resized to ``size`` as one (N, H, W, 3) float32 array."""
        return np.stack([resize_image(self[i], size) for i in range(len(self))])


@contextlib.contextmanager
def decode_guard(what: str, action: str = "read") -> Iterator[None]:
    """Turn every failure of PIL while decoding ``what`` (corrupt or truncated data, a
    decompression bomb, memory) into an ``InputError`` naming it; too large is an
    ``ImageTooLargeError``. Shared by file reading here and the service's uploads."""
    from PIL import Image

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            yield
    except InputError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageTooLargeError(
            f"{what} is too large to read safely ({exc}); expected a smaller image"
        ) from None
    except MemoryError:
        raise ImageTooLargeError(f"{what} is too large to decode in memory") from None
    except Exception as exc:  # decoders raise OSError, SyntaxError, ValueError, struct.error...
        raise InputError(
            f"cannot {action} {what}: {type(exc).__name__}: {exc} (corrupted, truncated or not an "
            "image; expected PNG, JPEG, BMP, TIFF, WebP, ...)"
        ) from None


def _guarded(path: Path) -> contextlib.AbstractContextManager[None]:
    return decode_guard(f"image file {path}")


def check_image_size(h: int, w: int, what: str) -> None:
    """Refuse an image of more than ``MAX_IMAGE_PIXELS`` pixels (``ImageTooLargeError``) or
    with a side under ``MIN_IMAGE_SIDE`` (``InputError``)."""
    if w * h > MAX_IMAGE_PIXELS:
        raise ImageTooLargeError(
            f"{what} is {h}x{w} pixels ({w * h} pixels); expected at most "
            f"{MAX_IMAGE_PIXELS} (a larger file may be a decompression bomb)"
        )
    if min(h, w) < MIN_IMAGE_SIDE:
        raise InputError(
            f"{what} is {h}x{w} pixels; images must be at least {MIN_IMAGE_SIDE}x{MIN_IMAGE_SIDE}"
        )


def _check_pixel_count(w: int, h: int, path: Path) -> None:
    if w * h > MAX_IMAGE_PIXELS:
        raise ImageTooLargeError(
            f"image file {path} is {h}x{w} pixels ({w * h} pixels); expected at most "
            f"{MAX_IMAGE_PIXELS} (a larger file may be a decompression bomb)"
        )


def _read_file(path: Path) -> np.ndarray:
    from PIL import Image

    with _guarded(path), Image.open(path) as im:
        _check_pixel_count(*im.size, path)
        im.load()
        arr = _pil_pixels(im)
    return _to_rgb(_array_to_float(arr, f"image file {path}"), f"image file {path}")


def _pil_pixels(im: Any) -> np.ndarray:
    """A PIL image's pixels as uint8/uint16/float32 (H, W[, C]), alpha dropped."""
    mode = im.mode
    if mode in ("L", "RGB"):
        return np.asarray(im)
    if mode == "1":
        return np.asarray(im.convert("L"))
    if mode == "LA" or mode == "La":
        return np.asarray(im.convert("L"))
    if mode.startswith("I;16"):  # 16-bit grayscale, any byte order
        return np.asarray(im).astype(np.uint16)
    if mode == "I":
        arr = np.asarray(im)
        if arr.size and arr.min() >= 0 and arr.max() <= 65535:
            return arr.astype(np.uint16)
        return arr  # rejected by _check_pixels with the range found
    if mode == "F":
        return np.asarray(im, dtype=np.float32)
    if mode in ("P", "PA"):  # palette; transparency, if any, becomes alpha, then dropped
        return np.asarray(im.convert("RGBA"))[:, :, :3]
    return np.asarray(im.convert("RGB"))  # RGBA, CMYK, YCbCr, LAB, HSV, ...


def _from_pil(im: Any, what: str) -> np.ndarray:
    try:
        arr = _pil_pixels(im)
    except Exception as exc:
        raise InputError(f"{what}: cannot convert PIL image in mode {im.mode!r} ({exc})") from None
    return _to_rgb(_array_to_float(arr, what), what)


def _probe_file(path: Path) -> tuple[int, int]:
    from PIL import Image

    if not path.is_file():
        raise InputError(f"image file {path} does not exist")
    with _guarded(path), Image.open(path) as im:
        w, h = im.size
    _check_pixel_count(w, h, path)
    if min(h, w) < MIN_IMAGE_SIDE:
        raise InputError(
            f"image file {path} is {h}x{w} pixels; images must be at least "
            f"{MIN_IMAGE_SIDE}x{MIN_IMAGE_SIDE}"
        )
    return h, w


def glob_regex(pattern: str) -> re.Pattern[str]:
    """A compiled regex for a glob over '/'-separated relative paths: ``**/`` matches any
    number of folders (none included), ``*`` and ``?`` never cross a '/', ``[...]`` is a set."""
    out, i, n = [], 0, len(pattern)
    while i < n:
        c = pattern[i]
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif c == "*":
            out.append("[^/]*")
            i += 1
        elif c == "?":
            out.append("[^/]")
            i += 1
        elif c == "[" and pattern.find("]", i + 2) != -1:
            j = pattern.find("]", i + 2)
            body = pattern[i + 1 : j]
            out.append("[" + ("^" + body[1:] if body.startswith("!") else body) + "]")
            i = j + 1
        else:
            out.append(re.escape(c))
            i += 1
    return re.compile("".join(out) + r"\Z")


def _walk(folder: Path, recursive: bool) -> Iterator[tuple[str, Path]]:
    """(relative posix path, path) of the regular files below ``folder``; hidden entries
    skipped; symbolic links followed, each real folder entered once."""
    seen: set[str] = set()
    stack = [(folder, "")]
    while stack:
        here, prefix = stack.pop()
        real = os.path.realpath(here)
        if real in seen:
            continue
        seen.add(real)
        try:
            entries = sorted(os.scandir(here), key=lambda e: e.name)
        except OSError as exc:
            raise InputError(f"cannot list folder {here}: {exc.strerror or exc}") from None
        for entry in entries:
            if entry.name.startswith("."):
                continue
            rel = prefix + entry.name
            try:
                if entry.is_dir():
                    if recursive:
                        stack.append((Path(entry.path), rel + "/"))
                elif entry.is_file():
                    yield rel, Path(entry.path)
            except OSError:  # a dangling link or an unreadable entry
                continue


def list_image_files(
    folder: Path, recursive: bool = False, pattern: str | None = None
) -> list[Path]:
    """Image files inside ``folder`` (below it with ``recursive``), optionally only those
    whose path relative to ``folder`` matches the glob ``pattern``, sorted by that path."""
    return [p for _, p in list_image_entries(folder, recursive, pattern)]


def list_image_entries(
    folder: Path, recursive: bool = False, pattern: str | None = None
) -> list[tuple[str, Path]]:
    """``list_image_files`` with each file's relative posix path (its name)."""
    rx = None if pattern is None else glob_regex(str(pattern))
    found = [
        (rel, p)
        for rel, p in _walk(Path(folder), recursive)
        if p.suffix.lower() in IMAGE_SUFFIXES and (rx is None or rx.match(rel))
    ]
    return sorted(found, key=lambda item: item[0])


def as_images(
    X: Any, name: str = "images", recursive: bool = False, pattern: str | None = None
) -> ImageSource:
    """Validate image input (see the module doc) and return a lazy ``ImageSource``;
    ``recursive`` and ``pattern`` select the files of a folder (see ``list_image_files``)."""
    if isinstance(X, ImageSource):
        return X
    if isinstance(X, (str, Path)):
        path = Path(X)
        if path.is_dir():
            entries = list_image_entries(path, recursive, pattern)
            if not entries:
                where = "below" if recursive else "in"
                match = f" matching {pattern!r}" if pattern is not None else ""
                raise InputError(
                    f"folder {path} holds no image files{match} ({where} it); expected files "
                    f"ending in {IMAGE_SUFFIXES}"
                )
            source = as_images([p for _, p in entries], name)
            source.names = [rel for rel, _ in entries]
            return source
        if recursive or pattern is not None:
            raise InputError(f"{name}: recursive and pattern need a folder, got {path}")
        if path.exists():
            X = [path]
        else:
            raise InputError(f"{name}: {path} is neither an image file nor a folder")
    if isinstance(X, np.ndarray):
        if X.ndim not in (3, 4):
            raise InputError(
                f"{name} array has shape {X.shape}; expected (N, H, W) or (N, H, W, C) — "
                "wrap a single image as X[None]"
            )
        if X.shape[0] == 0:
            raise InputError(f"{name} is empty; expected at least one image")
        _check_area(X.shape[1], X.shape[2], f"each image of {name}")
        # Validated whole, converted image by image when read: a whole float32 copy of a
        # large uint8 array costs more (fresh memory) than the conversions themselves.
        _check_pixels(X, f"{name} array")
        _to_rgb(X[0], f"{name}[0]")  # channels and size, shared by every image
        n = X.shape[0]
        items = [_ArrayImage(X, i, f"{name}[{i}]") for i in range(n)]
        names = [f"image_{i:05d}" for i in range(n)]
        return ImageSource(items, names, [tuple(X.shape[1:3])] * n)
    try:
        seq = list(X)
    except TypeError:
        raise InputError(
            f"{name} of type {type(X).__name__} is not accepted; expected a folder, file paths, "
            "PIL images or an (N, H, W[, C]) array"
        ) from None
    if not seq:
        raise InputError(f"{name} is empty; expected at least one image")
    items: list[Any] = []
    names: list[str] = []
    sizes: list[tuple[int, int]] = []
    for i, item in enumerate(seq):
        if isinstance(item, (str, Path)):
            p = Path(item)
            sizes.append(_probe_file(p))
            items.append(p)
            names.append(p.name)
        elif isinstance(item, np.ndarray):
            if item.ndim in (2, 3):
                _check_area(item.shape[0], item.shape[1], f"{name}[{i}]")
            arr = _to_rgb(_array_to_float(item, f"{name}[{i}]"), f"{name}[{i}]")
            items.append(arr)
            names.append(f"image_{i:05d}")
            sizes.append(arr.shape[:2])
        elif hasattr(item, "convert") and hasattr(item, "size"):  # PIL image
            w, h = item.size
            if min(h, w) < MIN_IMAGE_SIDE:
                raise InputError(
                    f"{name}[{i}] is {h}x{w} pixels; images must be at least "
                    f"{MIN_IMAGE_SIDE}x{MIN_IMAGE_SIDE}"
                )
            items.append(item)
            names.append(f"image_{i:05d}")
            sizes.append((h, w))
        else:
            raise InputError(
                f"{name}[{i}] is a {type(item).__name__}; expected a file path, a PIL image or an "
                "(H, W[, C]) array"
            )
    return ImageSource(items, names, sizes)
