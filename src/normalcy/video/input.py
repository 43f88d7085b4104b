"""Validation of video input: clips as arrays, frame folders or video files, read lazily.

A *clip* is one of

* an array (T, H, W) or (T, H, W, C), C in {1, 3, 4} (a trailing axis of size 1, 3 or 4 is
  channels), uint8, uint16 or float in [0, 1];
* a folder of frame images (sorted by name; the frame number is the position);
* a video file PyAV decodes (``.mp4``, ``.avi``, ``.mkv``, ``.mov``, ``.webm``, ...).

A *batch* is a list of clips, an array (N, T, H, W[, C]), or a folder whose sub-folders (or
video files) are the clips (the UCSD/Avenue/ShanghaiTech layout ``testing/01/000.jpg``). A
single clip is a batch of one.

Policies (``VideoSource`` arguments; a ``VideoDetector`` passes its class attributes):

* ``on_mixed_sizes``: every frame is brought to one *output size*, the resolution of the
  anomaly maps: the size of the first frame of the first clip. Frames of another size (a
  size change mid-clip, or a clip of another size) are resized bilinearly with
  ``"resize"`` (default) or refused with ``"error"``.
* channels: grayscale frames (1 channel, or an LA image) have 1 channel, colour frames 3
  (alpha is dropped). The source's channel count is that of the first clip; frames with the
  other count are converted (grey → repeated, colour → ITU-R 601 luma) with
  ``on_channel_mismatch="convert"`` (default) or refused with ``"error"``. A fitted
  detector converts to the channel count it was fitted with.
* ``on_corrupt_frame``: a frame file or video packet that cannot be decoded is an
  ``InputError`` naming it with ``"error"`` (default); with ``"repeat"`` it is replaced by
  the previous good frame (the first good one for a leading bad frame), so frame numbers
  stay aligned with labels; a clip without any good frame is always an error.
* short clips: a detector that needs ``k`` frames of history (``temporal_window``) scores
  the first frames of a clip with the history padded by repeating the first frame
  (``on_short_clip="pad"``, default; a single-frame clip is then scored too) or refuses
  clips shorter than ``k`` (``"error"``). This is applied by ``VideoDetector``.

Limits: frames must be at least ``MIN_SIDE`` pixels a side and at most ``MAX_FRAME_PIXELS``
pixels; a video file is decoded into memory (uint8) and may hold at most
``MAX_DECODED_BYTES``; split longer videos into clips or frame folders.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..core.errors import InputError
from ..image.input import IMAGE_SUFFIXES, list_image_files, resize_image

VIDEO_SUFFIXES = (".mp4", ".avi", ".mkv", ".mov", ".webm", ".mpg", ".mpeg", ".m4v", ".wmv")
MIN_SIDE = 8
MAX_FRAME_PIXELS = 4096 * 4096
MAX_DECODED_BYTES = 2 * 2**30
SIZE_POLICIES = ("resize", "error")
CHANNEL_POLICIES = ("convert", "error")
CORRUPT_POLICIES = ("error", "repeat")
SHORT_POLICIES = ("pad", "error")
_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)


def _check_policy(name: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise InputError(f"{name} must be one of {allowed}, got {value!r}")


# -- pixels ---------------------------------------------------------------------------------
def _check_pixels(arr: np.ndarray, what: str) -> None:
    """uint8/uint16 or finite float in [0, 1]; anything else is an ``InputError``."""
    if arr.dtype in (np.uint8, np.uint16):
        return
    if arr.dtype.kind != "f":
        raise InputError(
            f"{what} has dtype {arr.dtype}; expected uint8, uint16 or float in [0, 1] "
            "(convert integer pixels in [0, 255] with .astype(np.uint8))"
        )
    if arr.size == 0:
        raise InputError(f"{what} is empty (shape {arr.shape}); expected frames")
    if not np.isfinite(arr).all():
        raise InputError(f"{what} contains NaN or infinite pixels; expected finite values")
    lo, hi = float(arr.min()), float(arr.max())
    if lo < -1e-6 or hi > 1.0 + 1e-6:
        raise InputError(
            f"{what} is float with values in [{lo:.3g}, {hi:.3g}]; expected [0, 1] (or uint8)"
        )


def to_float(frame: np.ndarray) -> np.ndarray:
    """A validated (H, W[, C]) frame as (H, W, 1|3) float32 in [0, 1] (alpha dropped)."""
    if frame.ndim == 2:
        frame = frame[:, :, None]
    if frame.shape[2] == 2:  # LA
        frame = frame[:, :, :1]
    elif frame.shape[2] == 4:
        frame = frame[:, :, :3]
    if frame.dtype.kind == "u":
        out = frame.astype(np.float32)
        out /= np.float32(np.iinfo(frame.dtype).max)
        return out
    return np.clip(frame, 0.0, 1.0).astype(np.float32)


def convert_channels(frame: np.ndarray, channels: int) -> np.ndarray:
    """(H, W, c) float32 → (H, W, ``channels``): grey repeated, colour to luma."""
    if frame.shape[2] == channels:
        return frame
    if channels == 3:
        return np.repeat(frame, 3, axis=2)
    return (frame @ _LUMA)[:, :, None].astype(np.float32)


def _frame_channels(shape: tuple[int, ...], what: str) -> int:
    if len(shape) == 2:
        return 1
    if len(shape) != 3 or shape[2] not in (1, 2, 3, 4):
        raise InputError(f"{what} has shape {shape}; expected (H, W) or (H, W, C), C in 1-4")
    return 1 if shape[2] <= 2 else 3


def _check_size(h: int, w: int, what: str) -> None:
    if min(h, w) < MIN_SIDE:
        raise InputError(f"{what} is {h}x{w} pixels; frames must be at least {MIN_SIDE} a side")
    if int(h) * int(w) > MAX_FRAME_PIXELS:
        raise InputError(
            f"{what} is {h}x{w} pixels, more than the limit of {MAX_FRAME_PIXELS}; downscale it"
        )


# -- clips ----------------------------------------------------------------------------------
@dataclass
class Clip:
    """One validated clip: ``n_frames`` frames read lazily by ``read(start, stop)``.

    ``sizes`` holds the (H, W) of every frame when known without decoding (arrays, frame
    folders; a decoded video), ``channels`` the channel count of its first frame.
    """

    name: str
    n_frames: int
    sizes: list[tuple[int, int]]
    channels: int
    _array: np.ndarray | None = None
    _files: list[Path] | None = None
    on_corrupt_frame: str = "error"
    _last_good: np.ndarray | None = field(default=None, repr=False)

    def raw(self, i: int) -> np.ndarray:
        """Frame ``i`` as (H, W, 1|3) float32, corrupt-frame policy applied."""
        if self._array is not None:
            return to_float(self._array[i])
        assert self._files is not None
        path = self._files[i]
        try:
            frame = _read_frame_file(path)
        except InputError:
            if self.on_corrupt_frame == "error":
                raise
            frame = self._fallback(i)
        return frame

    def _fallback(self, i: int) -> np.ndarray:
        """The nearest earlier decodable frame (or the first later one)."""
        assert self._files is not None
        order = list(range(i - 1, -1, -1)) + list(range(i + 1, self.n_frames))
        for j in order:
            try:
                return _read_frame_file(self._files[j])
            except InputError:
                continue
        raise InputError(f"clip {self.name!r}: no frame of it can be decoded")


def _read_frame_file(path: Path) -> np.ndarray:
    from PIL import Image

    from ..image.input import _guarded, _pil_pixels  # the image modality's hardened reader

    with _guarded(path), Image.open(path) as im:
        w, h = im.size
        _check_size(h, w, f"frame file {path}")
        im.load()
        arr = _pil_pixels(im)
    _check_pixels(arr, f"frame file {path}")
    _frame_channels(arr.shape, f"frame file {path}")
    return to_float(arr)


def _probe_frame_file(path: Path, on_corrupt: str) -> tuple[tuple[int, int], int] | None:
    """(size, channels) of a frame file from its header; None for an unreadable file
    under the "repeat" policy."""
    from PIL import Image

    from ..image.input import _guarded

    try:
        with _guarded(path), Image.open(path) as im:
            w, h = im.size
            mode = im.mode
    except InputError:
        if on_corrupt == "error":
            raise
        return None
    _check_size(h, w, f"frame file {path}")
    return (h, w), (1 if mode in ("1", "L", "LA", "La", "I", "F") or mode.startswith("I;") else 3)


def _array_clip(arr: np.ndarray, name: str, what: str) -> Clip:
    if arr.ndim not in (3, 4):
        raise InputError(f"{what} has shape {arr.shape}; expected (T, H, W) or (T, H, W, C)")
    if arr.shape[0] == 0:
        raise InputError(f"{what} has no frames; expected at least one")
    h, w = int(arr.shape[1]), int(arr.shape[2])
    _check_size(h, w, f"each frame of {what}")
    channels = _frame_channels(arr.shape[1:], f"each frame of {what}")
    _check_pixels(arr, what)
    return Clip(name, int(arr.shape[0]), [(h, w)] * int(arr.shape[0]), channels, _array=arr)


def _folder_clip(folder: Path, files: list[Path], name: str, on_corrupt: str) -> Clip:
    sizes: list[tuple[int, int]] = []
    channels = None
    for path in files:
        probe = _probe_frame_file(path, on_corrupt)
        if probe is None:
            sizes.append(sizes[-1] if sizes else (-1, -1))
            continue
        sizes.append(probe[0])
        channels = probe[1] if channels is None else channels
    if channels is None:
        raise InputError(f"frame folder {folder}: no frame of it can be decoded")
    first = next(s for s in sizes if s[0] > 0)
    sizes = [first if s[0] < 0 else s for s in sizes]
    return Clip(name, len(files), sizes, channels, _files=files, on_corrupt_frame=on_corrupt)


def _video_clip(path: Path, name: str, on_corrupt: str) -> Clip:
    """Decode a video file with PyAV into a uint8 array (T, H, W, 3)."""
    try:
        import av
    except ImportError:  # pragma: no cover - the video extra installs it
        raise InputError(
            f"reading video file {path} needs PyAV: pip install 'normalcy[video]'"
        ) from None
    frames: list[np.ndarray] = []
    total = 0
    bad = 0
    try:
        container = av.open(str(path))
    except Exception as exc:
        raise InputError(f"cannot open video file {path}: {type(exc).__name__}: {exc}") from None
    with container:
        if not container.streams.video:
            raise InputError(f"file {path} holds no video stream")
        stream = container.streams.video[0]
        for packet in container.demux(stream):
            try:
                decoded = packet.decode()
            except Exception as exc:
                if on_corrupt == "error":
                    raise InputError(
                        f"video file {path}: a packet after frame {len(frames)} cannot be "
                        f"decoded ({type(exc).__name__}: {exc}); pass on_corrupt_frame='repeat' "
                        "to replace it by the previous frame"
                    ) from None
                bad += 1
                if frames:
                    frames.append(frames[-1])
                continue
            for frame in decoded:
                h, w = frame.height, frame.width
                _check_size(h, w, f"frame {len(frames)} of video file {path}")
                total += h * w * 3
                if total > MAX_DECODED_BYTES:
                    raise InputError(
                        f"video file {path} decodes to more than {MAX_DECODED_BYTES} bytes; split "
                        "it into shorter clips"
                    )
                frames.append(frame.to_ndarray(format="rgb24"))
    if not frames:
        raise InputError(f"video file {path} holds no decodable frame")
    sizes = [f.shape[:2] for f in frames]
    if len(set(sizes)) == 1:
        arr = np.stack(frames)
        return Clip(name, len(frames), [sizes[0]] * len(frames), 3, _array=arr)
    return _ListClip(name, len(frames), list(sizes), 3, frames=frames)


@dataclass
class _ListClip(Clip):
    """A decoded clip whose frames differ in size (kept as a list)."""

    frames: list[np.ndarray] = field(default_factory=list)

    def raw(self, i: int) -> np.ndarray:
        return to_float(self.frames[i])


# -- a batch of clips -------------------------------------------------------------------------
class VideoSource:
    """A validated batch of clips, every frame delivered at one size and channel count.

    ``frames(i, start, stop)`` returns frames of clip ``i`` as (n, H, W, C) float32 in
    [0, 1] at ``size`` with ``channels`` channels (see the module doc for the policies).
    """

    def __init__(
        self,
        clips: list[Clip],
        *,
        on_mixed_sizes: str = "resize",
        on_channel_mismatch: str = "convert",
    ):
        _check_policy("on_mixed_sizes", on_mixed_sizes, SIZE_POLICIES)
        _check_policy("on_channel_mismatch", on_channel_mismatch, CHANNEL_POLICIES)
        self.clips = clips
        self.size: tuple[int, int] = tuple(clips[0].sizes[0])  # type: ignore[assignment]
        self.channels = clips[0].channels
        self.on_mixed_sizes = on_mixed_sizes
        self.on_channel_mismatch = on_channel_mismatch
        if on_mixed_sizes == "error":
            for clip in clips:
                other = next((s for s in clip.sizes if tuple(s) != self.size), None)
                if other is not None:
                    raise InputError(
                        f"clip {clip.name!r} has a {other[0]}x{other[1]} frame but the output size "
                        f"is {self.size[0]}x{self.size[1]}; expected one frame size, or "
                        "on_mixed_sizes='resize'"
                    )
        self._check_channels(self.channels)

    def _check_channels(self, channels: int) -> None:
        if self.on_channel_mismatch != "error":
            return
        for clip in self.clips:
            if clip.channels != channels:
                raise InputError(
                    f"clip {clip.name!r} has {clip.channels} channel(s), expected {channels}; "
                    "pass on_channel_mismatch='convert' to convert it"
                )

    def with_channels(self, channels: int) -> VideoSource:
        """The same clips delivered with ``channels`` channels (a fitted detector's)."""
        self._check_channels(channels)
        self.channels = channels
        return self

    def __len__(self) -> int:
        return len(self.clips)

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.clips]

    @property
    def lengths(self) -> list[int]:
        return [c.n_frames for c in self.clips]

    @property
    def n_frames(self) -> int:
        return sum(self.lengths)

    def frame(self, i: int, t: int) -> np.ndarray:
        """Frame ``t`` of clip ``i`` as (H, W, C) float32 at the output size."""
        img = self.clips[i].raw(t)
        if img.shape[:2] != self.size:
            img = resize_image(img, self.size)
            if img.ndim == 2:
                img = img[:, :, None]
        return convert_channels(img, self.channels)

    def frames(self, i: int, start: int = 0, stop: int | None = None) -> np.ndarray:
        stop = self.clips[i].n_frames if stop is None else stop
        return np.stack([self.frame(i, t) for t in range(start, stop)])

    def iter_chunks(self, i: int, chunk: int) -> Iterator[tuple[int, np.ndarray]]:
        """(start, frames) of clip ``i`` in chunks of ``chunk`` frames."""
        n = self.clips[i].n_frames
        for start in range(0, n, chunk):
            yield start, self.frames(i, start, min(n, start + chunk))


def _is_video_file(path: Path) -> bool:
    return path.is_file() and path.suffix.lower() in VIDEO_SUFFIXES


def _clip_from_path(path: Path, name: str, on_corrupt: str) -> Clip:
    if path.is_dir():
        files = list_image_files(path)
        if not files:
            raise InputError(
                f"frame folder {path} holds no images; expected files ending in {IMAGE_SUFFIXES}"
            )
        return _folder_clip(path, files, name, on_corrupt)
    if _is_video_file(path):
        return _video_clip(path, name, on_corrupt)
    if path.is_file():
        raise InputError(
            f"{path} is not a video file; expected one of {VIDEO_SUFFIXES} or a frame folder"
        )
    raise InputError(f"{path} does not exist; expected a video file or a folder of frames")


def _clips_of_folder(folder: Path, on_corrupt: str) -> list[Clip]:
    """A folder of frames is one clip; a folder of sub-folders / video files is many."""
    if list_image_files(folder):
        return [_clip_from_path(folder, folder.name, on_corrupt)]
    members = sorted(p for p in folder.iterdir() if p.is_dir() or _is_video_file(p))
    if not members:
        raise InputError(
            f"folder {folder} holds no frames, frame folders or video files; expected frames "
            f"({', '.join(IMAGE_SUFFIXES)}), sub-folders of frames, or videos"
        )
    return [_clip_from_path(p, p.stem if p.is_file() else p.name, on_corrupt) for p in members]


def as_clips(
    X: Any,
    name: str = "clips",
    *,
    on_mixed_sizes: str = "resize",
    on_channel_mismatch: str = "convert",
    on_corrupt_frame: str = "error",
) -> VideoSource:
    """Validate video input (see the module doc) and return a lazy ``VideoSource``."""
    if isinstance(X, VideoSource):
        return X
    _check_policy("on_corrupt_frame", on_corrupt_frame, CORRUPT_POLICIES)
    clips: list[Clip]
    if isinstance(X, (str, Path)):
        path = Path(X)
        if path.is_dir():
            clips = _clips_of_folder(path, on_corrupt_frame)
        else:
            clips = [_clip_from_path(path, path.stem, on_corrupt_frame)]
    elif isinstance(X, np.ndarray):
        if X.ndim == 5 or (X.ndim == 4 and X.shape[-1] > 4):
            if X.shape[0] == 0:
                raise InputError(f"{name} is empty; expected at least one clip")
            clips = [_array_clip(X[i], f"{i:04d}", f"{name}[{i}]") for i in range(X.shape[0])]
        elif X.ndim in (3, 4):
            clips = [_array_clip(X, "0000", name)]
        else:
            raise InputError(
                f"{name} array has shape {X.shape}; expected a clip (T, H, W[, C]) or a batch "
                "(N, T, H, W[, C])"
            )
    else:
        if X is None or isinstance(X, (bytes, int, float, dict)):
            raise InputError(
                f"{name} of type {type(X).__name__} is not accepted; expected an array, a frame "
                "folder, a video file or a list of clips"
            )
        try:
            seq = list(X)
        except TypeError:
            raise InputError(
                f"{name} of type {type(X).__name__} is not accepted; expected an array, a frame "
                "folder, a video file or a list of clips"
            ) from None
        if not seq:
            raise InputError(f"{name} is empty; expected at least one clip")
        clips = []
        for i, item in enumerate(seq):
            if isinstance(item, (str, Path)):
                clips.append(_clip_from_path(Path(item), Path(item).stem, on_corrupt_frame))
            elif isinstance(item, np.ndarray):
                clips.append(_array_clip(item, f"{i:04d}", f"{name}[{i}]"))
            else:
                raise InputError(
                    f"{name}[{i}] is a {type(item).__name__}; expected an array (T, H, W[, C]), "
                    "a frame folder or a video file"
                )
    return VideoSource(
        clips, on_mixed_sizes=on_mixed_sizes, on_channel_mismatch=on_channel_mismatch
    )
