"""Shared machinery of the feature-based image detectors (PatchCore, PaDiM, Gaussian).

``FeatureImageDetector`` turns validated images into batches of pretrained feature maps:
preprocessing (``image.preprocess``), a frozen backbone (``image.backbones``) run under
``torch.inference_mode`` with a bounded number of threads, and the feature cache. It also
turns per-view patch-score grids into anomaly maps at the input resolution (bilinear
upsampling + Gaussian smoothing, as in the papers). Subclasses implement the statistics.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from ..core.constraints import Satisfies
from ..core.errors import InputError, ModelFileError
from .backbones import (
    FEATURE_CACHE,
    FeatureExtractor,
    describe,
    describe_layers,
    grid_side,
    layer_info,
    load_backbone,
)
from .base import ImageDetector
from .heap import TRIM_EVERY, release_free_heap
from .input import ImageSource, resize_image
from .preprocess import Box, Preprocess, assemble_maps

DEVICES = ("auto", "cpu", "cuda")


@dataclass
class FeatureBatch:
    """Features of the views of a batch of images.

    ``images``: indices (into the source) of the images in this batch; ``view_image``:
    for each view, the position of its image within ``images``; ``boxes``: the output-image
    box each view covers; ``features``: one (V, C, h, w) float32 tensor per layer.
    """

    images: np.ndarray
    view_image: np.ndarray
    boxes: list[Box]
    features: list[torch.Tensor]


def resolve_device(device: str) -> torch.device:
    if device not in DEVICES:
        raise InputError(f"device must be one of {DEVICES}, got {device!r}")
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cuda" and not torch.cuda.is_available():
        raise InputError("device='cuda' was asked for but no CUDA device is available")
    return torch.device(device)


@contextlib.contextmanager
def torch_threads(n: int | None) -> Iterator[None]:
    """Run the block with ``n`` threads in torch, faiss and the BLAS libraries of numpy and
    scipy (via threadpoolctl), restoring the previous settings afterwards."""
    if n is None:
        yield
        return
    n = max(1, min(int(n), os.cpu_count() or 1))
    with _blas_limit(n):
        with _torch_faiss_threads(n):
            yield


@contextlib.contextmanager
def _blas_limit(n: int) -> Iterator[None]:
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - scikit-learn depends on threadpoolctl
        yield
        return
    with threadpool_limits(limits=n):
        yield


@contextlib.contextmanager
def _torch_faiss_threads(n: int) -> Iterator[None]:
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    faiss_before = None
    try:
        import faiss

        faiss_before = faiss.omp_get_max_threads()
        faiss.omp_set_num_threads(n)
    except ImportError:  # faiss is only needed by PatchCore
        pass
    try:
        yield
    finally:
        torch.set_num_threads(before)
        if faiss_before is not None:
            import faiss

            faiss.omp_set_num_threads(faiss_before)


# Largest activation the backbone may allocate per forward call on CPU. Larger tensors are
# served by mmap and page-faulted afresh on every call (glibc's mmap threshold is 32 MiB),
# which halves the speed of EfficientNet-Lite at batch 8 and 256 pixels.
_MAX_ACTIVATION_BYTES = 24 * 2**20
_ACTIVATION_BYTES_PER_PIXEL = 96 * 4 / 4  # 96 channels at half resolution, float32


def backbone_chunk(input_size: int) -> int:
    """Images per backbone call on CPU so that no activation exceeds ~24 MiB."""
    per_image = _ACTIVATION_BYTES_PER_PIXEL * input_size * input_size
    return max(1, int(_MAX_ACTIVATION_BYTES // per_image))


def backbone_slices(x: torch.Tensor, input_size: int) -> Iterator[torch.Tensor]:
    """``x`` in the slices the backbone is called on: ``backbone_chunk`` images at a time on
    CPU, all at once elsewhere."""
    step = backbone_chunk(input_size) if x.device.type == "cpu" else max(1, len(x))
    for start in range(0, len(x), step):
        yield x[start : start + step]


def local_average(feature: torch.Tensor, size: int) -> torch.Tensor:
    """Average over each position's ``size`` x ``size`` neighbourhood (PatchCore's locally
    aware patch features); borders average over the pixels that exist."""
    if size <= 1:
        return feature
    pad = size // 2
    return F.avg_pool2d(feature, size, stride=1, padding=pad, count_include_pad=False)


def concat_layers(features: Sequence[torch.Tensor], pool: int = 1) -> torch.Tensor:
    """Layers brought to the first (finest) layer's grid and concatenated: (V, sum C, h, w)."""
    h, w = features[0].shape[-2:]
    out = []
    for f in features:
        f = local_average(f, pool)
        if f.shape[-2:] != (h, w):
            f = F.interpolate(f, size=(h, w), mode="bilinear", align_corners=False)
        out.append(f)
    return torch.cat(out, dim=1)


class FeatureImageDetector(ImageDetector):
    """Base of detectors built on frozen pretrained features; see the module docstring.

    Subclasses store the common parameters ``backbone``, ``layers``, ``image_size``,
    ``resize``, ``center_crop``, ``tile``, ``tile_overlap``, ``sigma``, ``batch_size``,
    ``num_threads``, ``device``, ``cache_features``, ``seed`` and ``verbose``.
    """

    backbone: str
    layers: Sequence[str] | None
    image_size: int
    resize: str
    center_crop: int | None
    tile: int | None
    tile_overlap: float
    sigma: float
    batch_size: int
    num_threads: int | None
    device: str
    cache_features: bool
    seed: int
    verbose: bool

    # -- building blocks --------------------------------------------------------------------
    def _extractor(self) -> FeatureExtractor:
        ext = getattr(self, "_extractor_", None)
        if ext is None:
            device = resolve_device(self.device)
            ext = load_backbone(self.backbone, self.layers, device=device)
            self._extractor_ = ext
        return ext

    def _preprocess(self) -> Preprocess:
        ext = self._extractor()
        return Preprocess(
            image_size=int(self.image_size),
            resize=self.resize,
            center_crop=self.center_crop,
            tile=self.tile,
            tile_overlap=float(self.tile_overlap),
            mean=ext.mean,
            std=ext.std,
        )

    def _check_common(self) -> None:
        if int(self.batch_size) < 1:
            raise InputError(f"batch_size must be >= 1, got {self.batch_size}")
        if float(self.sigma) < 0:
            raise InputError(f"sigma must be >= 0, got {self.sigma}")
        self._preprocess()  # validates the preprocessing parameters

    def _backbone_meta(self) -> dict[str, Any]:
        return describe(self._extractor())

    def _check_backbone_meta(self, meta: dict[str, Any]) -> None:
        """A loaded model must see the same backbone layout it was fitted with."""
        saved = meta.get("backbone_info")
        if saved is None:
            return
        now = self._backbone_meta()
        if saved != now:
            raise ModelFileError(
                f"the model was fitted with backbone {saved}, but this installation builds "
                f"{now}; install the same backbone package"
            )

    # -- what a saved state must look like (``core.state_spec``) ------------------------------
    def _extractor_layers(self) -> Sequence[str] | None:
        """The layers the extractor is built with (``layers``; Gaussian AD adds its map
        layers)."""
        return self.layers

    def _layer_info(self) -> list[tuple[str, int, int]]:
        """(layer, channels, stride) of the extractor's layers, shallow to deep; from the
        backbone's table when it has one (no network built), else from the extractor."""
        try:
            info = layer_info(self.backbone, self._extractor_layers())
            if info is None:
                ext = self._extractor()
                info = list(zip(ext.layers, ext.channels, ext.strides, strict=True))
        except Exception as exc:  # only state specs ask: the parameters came from a file
            raise ModelFileError(
                f"backbone {self.backbone!r} with layers {self._extractor_layers()} cannot be "
                f"built to check the saved state ({exc})"
            ) from None
        return info

    def _input_side(self) -> int:
        """Side of the square view the network sees."""
        return int(self.center_crop or self.image_size)

    def _grid_side(self) -> int:
        """Side of the finest requested layer's grid, the grid patch features live on."""
        return grid_side(self._input_side(), min(s for _, _, s in self._layer_info()))

    def _backbone_meta_form(self) -> list[Any]:
        """The one acceptable ``backbone_info`` (what ``_backbone_meta`` writes)."""
        want = describe_layers(self.backbone, self._extractor_layers())
        if want is None:
            want = describe(self._extractor())
        return [Satisfies(lambda v: v == want, f"the layout of the backbone: {want}")]

    # -- images → features --------------------------------------------------------------------
    def _image_at(self, source: ImageSource, i: int, out_size: tuple[int, int]) -> np.ndarray:
        """Image ``i`` brought to the output size (for detectors that need that)."""
        img = source[i]
        if img.shape[:2] != tuple(out_size):
            img = resize_image(img, out_size)
        return img

    @staticmethod
    def _views_at(
        prep: Preprocess, img: np.ndarray, out_size: tuple[int, int]
    ) -> tuple[list[np.ndarray], list[Box]]:
        """Views cut from the image at its own resolution (one resampling only), with their
        boxes scaled to the output size."""
        views, boxes = prep.views(img)
        h, w = img.shape[:2]
        oh, ow = out_size
        if (h, w) != (oh, ow):
            sy, sx = oh / h, ow / w
            boxes = [
                (
                    min(oh - 1, int(round(y0 * sy))),
                    min(ow - 1, int(round(x0 * sx))),
                    max(int(round(y0 * sy)) + 1, min(oh, int(round(y1 * sy)))),
                    max(int(round(x0 * sx)) + 1, min(ow, int(round(x1 * sx)))),
                )
                for y0, x0, y1, x1 in boxes
            ]
        return views, boxes

    def _feature_batches(
        self, source: ImageSource, out_size: tuple[int, int], what: str, cache: bool = True
    ) -> Iterator[FeatureBatch]:
        """Features of every image's views, ``batch_size`` images at a time.

        ``cache=False`` (scoring) bypasses the feature cache: it serves repeated fits on the
        same training images, while scored images are usually new, so hashing them (and
        keeping their features) would only cost time and memory.
        """
        ext = self._extractor()
        prep = self._preprocess()
        device = next(ext.parameters()).device
        tag = f"{ext.backbone_name}|{','.join(ext.layers)}|{prep.mean}|{prep.std}"
        use_cache = cache and bool(self.cache_features)
        n = len(source)
        with _progress(what, n, self.verbose) as advance:
            for k, start in enumerate(range(0, n, int(self.batch_size))):
                if k and k % TRIM_EVERY == 0:  # long loops must not grow the heap (image.heap)
                    release_free_heap()
                idx = np.arange(start, min(start + int(self.batch_size), n))
                views: list[np.ndarray] = []
                boxes: list[Box] = []
                owner: list[int] = []
                for j, i in enumerate(idx):
                    v, b = self._views_at(prep, source[int(i)], out_size)
                    views += v
                    boxes += b
                    owner += [j] * len(v)
                feats = self._run_backbone(ext, prep, views, tag, use_cache, device)
                yield FeatureBatch(idx, np.asarray(owner), boxes, feats)
                advance(len(idx))

    def _run_backbone(
        self,
        ext: FeatureExtractor,
        prep: Preprocess,
        views: list[np.ndarray],
        tag: str,
        use_cache: bool,
        device: torch.device,
    ) -> list[torch.Tensor]:
        """Features of ``views`` (one backbone batch), from the cache when this exact batch
        was computed before under the same settings.

        The cache holds whole batches, keyed by the backbone, its layers, the normalisation,
        the device, the thread count and every view's pixels: a convolution's rounding
        depends on the batch it runs in and on the threads, so features cached per view by
        another detector (another batch size, other threads) would differ in the last bits
        from those this call computes, and scores would depend on what ran before.
        """
        x_views = np.stack(views)
        key = ""
        if use_cache:
            runtime = f"{tag}|{device}|threads={torch.get_num_threads()}|{x_views.dtype}"
            key = FEATURE_CACHE.key(runtime, x_views)
            cached = FEATURE_CACHE.get(key)
            if cached is not None:
                return [torch.from_numpy(a) for a in cached]
        x = prep.normalise(x_views, device)
        with torch.inference_mode():
            parts = [
                [f.float().cpu() for f in ext(part)] for part in backbone_slices(x, prep.input_size)
            ]
        out = [torch.cat([p[k] for p in parts]).contiguous() for k in range(len(parts[0]))]
        if use_cache:
            FEATURE_CACHE.put(key, [f.numpy().copy() for f in out])
        return out

    def _maps(self, grids: torch.Tensor, batch: FeatureBatch, out_size: tuple[int, int]):
        """Per-view patch-score grids → (b, H, W) float32 maps at the output size."""
        return assemble_maps(
            grids,
            batch.view_image,
            batch.boxes,
            out_size,
            len(batch.images),
            self._preprocess().input_size,
            float(self.sigma),
        )

    def _runtime(self):
        return torch_threads(self.num_threads)


@contextlib.contextmanager
def _progress(what: str, total: int, verbose: bool) -> Iterator[Any]:
    """A rich progress bar over images; silent when not verbose or not on a terminal."""
    from rich.console import Console

    console = Console(stderr=True)
    if not verbose or not console.is_terminal or total < 2:
        yield lambda k: None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    with Progress(
        "{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as progress:
        task = progress.add_task(what, total=total)
        yield lambda k: progress.advance(task, k)
