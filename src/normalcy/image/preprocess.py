"""Image preprocessing for the feature-based detectors, in one place.

An image (H, W, 3) float in [0, 1] becomes one or more *views*: square model inputs, each
with the box of the image it covers (the detectors scale boxes to the *output size*, the
resolution of the anomaly maps, so an image is resampled only once). Policies:

* ``resize="stretch"`` (default): the whole image resized to ``image_size`` x ``image_size``
  (aspect ratio not kept; every pixel is seen).
* ``resize="keep_aspect"``: the shorter side resized to ``image_size``, then the centre
  square kept (classification style; the borders of elongated images are not seen).
* ``center_crop=C``: after resizing, only the centre C x C is given to the network (the
  PatchCore/PaDiM MVTec protocol resizes to 256 and crops 224).
* ``tile=T``: for high-resolution inputs, overlapping T x T tiles of the image (in its own
  pixels), each resized to ``image_size``; maps are stitched back by averaging the overlaps.

Grayscale images become 3 channels; the network's normalisation (ImageNet mean/std, or the
TensorFlow scaling of EfficientNet-Lite) is applied in ``normalise``. Map pixels no view
covers get the lowest value of the covered pixels.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import torch
import torch.nn.functional as F

from ..core.errors import InputError
from .input import resize_image
from .interpolation import interp_matrix

RESIZE_POLICIES = ("stretch", "keep_aspect")
Box = tuple[int, int, int, int]  # y0, x0, y1, x1 in output pixels (end exclusive)


def to_rgb(img: np.ndarray) -> np.ndarray:
    """(H, W), (H, W, 1), (H, W, 3) or (H, W, 4) float image → (H, W, 3)."""
    if img.ndim == 2:
        img = img[:, :, None]
    if img.ndim != 3 or img.shape[2] not in (1, 3, 4):
        raise InputError(f"image has shape {img.shape}; expected (H, W) or (H, W, 1|3|4)")
    if img.shape[2] == 1:
        return np.repeat(img, 3, axis=2)
    return img[:, :, :3]


def tile_boxes(height: int, width: int, tile: int, overlap: float) -> list[Box]:
    """Boxes of overlapping ``tile`` x ``tile`` tiles covering a ``height`` x ``width`` image."""
    if not 0.0 <= overlap < 1.0:
        raise InputError(f"tile_overlap must lie in [0, 1), got {overlap}")

    def starts(n: int) -> list[int]:
        if n <= tile:
            return [0]
        step = max(1, int(round(tile * (1.0 - overlap))))
        out = list(range(0, n - tile + 1, step))
        if out[-1] != n - tile:
            out.append(n - tile)
        return out

    th, tw = min(tile, height), min(tile, width)
    return [(y, x, y + th, x + tw) for y in starts(height) for x in starts(width)]


@dataclass(frozen=True)
class Preprocess:
    """How images become network inputs; see the module docstring.

    Parameters
    ----------
    image_size: side of the resized image.
    resize: "stretch" or "keep_aspect".
    center_crop: side of the centre crop given to the network, or None.
    tile: side of the tiles (output pixels) for high-resolution inputs, or None.
    tile_overlap: fraction of overlap between neighbouring tiles.
    mean, std: per-channel normalisation of the network.
    """

    image_size: int = 256
    resize: str = "stretch"
    center_crop: int | None = None
    tile: int | None = None
    tile_overlap: float = 0.25
    mean: tuple[float, float, float] = (0.485, 0.456, 0.406)
    std: tuple[float, float, float] = (0.229, 0.224, 0.225)

    def __post_init__(self) -> None:
        if self.resize not in RESIZE_POLICIES:
            raise InputError(f"resize must be one of {RESIZE_POLICIES}, got {self.resize!r}")
        if int(self.image_size) < 32:
            raise InputError(f"image_size must be at least 32 pixels, got {self.image_size}")
        if self.center_crop is not None and not 32 <= self.center_crop <= self.image_size:
            raise InputError(
                f"center_crop must lie in [32, image_size={self.image_size}], "
                f"got {self.center_crop}"
            )
        if self.tile is not None and int(self.tile) < 32:
            raise InputError(f"tile must be at least 32 pixels, got {self.tile}")
        if not 0.0 <= self.tile_overlap < 1.0:
            raise InputError(f"tile_overlap must lie in [0, 1), got {self.tile_overlap}")

    @property
    def input_size(self) -> int:
        """Side of the square tensor given to the network."""
        return int(self.center_crop or self.image_size)

    def views(self, img: np.ndarray) -> tuple[list[np.ndarray], list[Box]]:
        """Network inputs (S, S, 3) of one image and the boxes of it they cover."""
        img = to_rgb(img)
        h, w = img.shape[:2]
        regions = (
            [(0, 0, h, w)] if self.tile is None else tile_boxes(h, w, self.tile, self.tile_overlap)
        )
        views, boxes = [], []
        for y0, x0, y1, x1 in regions:
            view, box = self._one_view(img[y0:y1, x0:x1])
            views.append(view)
            boxes.append((box[0] + y0, box[1] + x0, box[2] + y0, box[3] + x0))
        return views, boxes

    def _one_view(self, img: np.ndarray) -> tuple[np.ndarray, Box]:
        h, w = img.shape[:2]
        s = int(self.image_size)
        if self.resize == "stretch":
            out = resize_image(img, (s, s))
            sy, sx = s / h, s / w
            oy = ox = 0.0
        else:  # keep_aspect: shorter side to s, centre square
            scale = s / min(h, w)
            rh, rw = max(s, round(h * scale)), max(s, round(w * scale))
            resized = resize_image(img, (rh, rw))
            ty, tx = (rh - s) // 2, (rw - s) // 2
            out = resized[ty : ty + s, tx : tx + s]
            sy, sx = rh / h, rw / w
            oy, ox = float(ty), float(tx)
        c = self.input_size
        if c < s:
            off = (s - c) // 2
            out = out[off : off + c, off : off + c]
            oy, ox = oy + off, ox + off
        # Box of the output image covered by the view (inverse of the resize and crops).
        y0 = int(np.floor(oy / sy))
        x0 = int(np.floor(ox / sx))
        y1 = min(h, int(np.ceil((oy + c) / sy)))
        x1 = min(w, int(np.ceil((ox + c) / sx)))
        return np.ascontiguousarray(out, dtype=np.float32), (y0, x0, y1, x1)

    def normalise(self, batch: np.ndarray, device: torch.device | str = "cpu") -> torch.Tensor:
        """(B, S, S, 3) float in [0, 1] → normalised (B, 3, S, S) tensor (channels-last)."""
        x = torch.from_numpy(np.ascontiguousarray(batch, dtype=np.float32)).to(device)
        scale = torch.tensor([1.0 / s for s in self.std], dtype=x.dtype, device=x.device)
        shift = torch.tensor(
            [-m / s for m, s in zip(self.mean, self.std, strict=True)],
            dtype=x.dtype,
            device=x.device,
        )
        x = torch.addcmul(shift, x, scale)  # (x - mean) / std in one pass over the batch
        return x.permute(0, 3, 1, 2)  # NHWC memory = channels_last NCHW view


def gaussian_kernel1d(sigma: float, truncate: float = 4.0) -> torch.Tensor:
    """Normalised 1-D Gaussian kernel of radius ``truncate * sigma``."""
    radius = max(1, int(truncate * sigma + 0.5))
    x = torch.arange(-radius, radius + 1, dtype=torch.float32)
    k = torch.exp(-0.5 * (x / sigma) ** 2)
    return k / k.sum()


def gaussian_blur(maps: torch.Tensor, sigma: float) -> torch.Tensor:
    """Separable Gaussian smoothing of (B, H, W) maps, reflecting at the borders."""
    if sigma <= 0:
        return maps
    k = gaussian_kernel1d(sigma).to(maps)
    r = (k.numel() - 1) // 2
    x = maps[:, None]
    h, w = x.shape[-2:]
    mode = "reflect" if min(h, w) > r else "replicate"
    x = F.pad(x, (r, r, 0, 0), mode=mode)
    x = F.conv2d(x, k.view(1, 1, 1, -1))
    x = F.pad(x, (0, 0, r, r), mode=mode)
    x = F.conv2d(x, k.view(1, 1, -1, 1))
    return x[:, 0]


def upsample(maps: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Bilinear resize of (B, h, w) maps to ``size``."""
    if tuple(maps.shape[-2:]) == tuple(size):
        return maps
    return F.interpolate(maps[:, None], size=size, mode="bilinear", align_corners=False)[:, 0]


def _blur_matrix(n: int, sigma: float) -> np.ndarray:
    """(n, n) matrix of ``gaussian_blur`` along one axis of an n x n map."""
    if sigma <= 0:
        return np.eye(n)
    k = gaussian_kernel1d(sigma).double().numpy()
    r = (len(k) - 1) // 2
    m = np.zeros((n, n))
    for i in range(n):
        j = i + np.arange(-r, r + 1)
        if n > r:  # reflect (the border pixel is not repeated)
            j = np.where(j < 0, -j, j)
            j = np.where(j >= n, 2 * (n - 1) - j, j)
        else:
            j = np.clip(j, 0, n - 1)
        np.add.at(m[i], j, k)
    return m


@lru_cache(maxsize=64)
def map_operator(n_grid: int, input_size: int, n_out: int, sigma: float) -> torch.Tensor:
    """(n_out, n_grid) float32 matrix taking one axis of a patch-score grid to the output:
    bilinear upsampling to the network input size, Gaussian smoothing there, bilinear
    resizing to ``n_out`` pixels. All three are linear and separable, so a whole map is
    ``A_h @ grid @ A_w.T`` (much cheaper than convolving full-size maps)."""
    op = interp_matrix(n_grid, input_size)
    op = _blur_matrix(input_size, float(sigma)) @ op
    op = interp_matrix(input_size, n_out) @ op
    return torch.from_numpy(op.astype(np.float32))


def assemble_maps(
    view_maps: torch.Tensor,
    view_image: np.ndarray,
    boxes: list[Box],
    out_size: tuple[int, int],
    n_images: int,
    input_size: int,
    sigma: float,
) -> np.ndarray:
    """Patch-score grids of all views → one smoothed map per image at ``out_size``.

    ``view_maps`` (V, h, w) are upsampled to the network input size (``input_size``),
    smoothed there with a Gaussian of ``sigma`` pixels (as in PaDiM and PatchCore), resized
    into their boxes of the output image, and averaged where boxes overlap. Pixels no view
    covers get the lowest covered value of their image.
    """
    grids = view_maps.float().cpu().contiguous()  # strided views make matmul slow
    v, gh, gw = grids.shape
    h, w = out_size
    s = int(input_size)

    def place(i: int | slice, bh: int, bw: int) -> torch.Tensor:
        a_h = map_operator(gh, s, bh, float(sigma))
        a_w = map_operator(gw, s, bw, float(sigma))
        return a_h @ grids[i] @ a_w.T

    whole = all(tuple(b) == (0, 0, h, w) for b in boxes)
    if whole and v == n_images:  # one view per image covering all of it
        return place(slice(None), h, w).numpy().astype(np.float32, copy=False)
    acc = np.zeros((n_images, h, w), dtype=np.float64)
    cnt = np.zeros((n_images, h, w), dtype=np.float64)
    for i, (y0, x0, y1, x1) in enumerate(boxes):
        acc[view_image[i], y0:y1, x0:x1] += place(i, y1 - y0, x1 - x0).numpy()
        cnt[view_image[i], y0:y1, x0:x1] += 1.0
    out = np.empty((n_images, h, w), dtype=np.float32)
    for j in range(n_images):
        covered = cnt[j] > 0
        mean = np.divide(acc[j], cnt[j], out=np.zeros_like(acc[j]), where=covered)
        low = mean[covered].min() if covered.any() else 0.0
        out[j] = np.where(covered, mean, low)
    return out
