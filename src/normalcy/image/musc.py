"""MuSc: zero-shot anomaly detection by mutual scoring of the unlabelled test images.

No training data: the images of one ``score`` call score each other. The observation
behind it: a normal patch finds many similar patches in the other images of the batch, an
anomalous one only a few. Three steps (Li et al., ICLR 2024):

1. **LNAMD**, local neighbourhood aggregation with multiple degrees: each layer's feature
   map is layer-normalised per image, averaged over each position's ``r`` x ``r``
   neighbourhood for every ``r`` in ``aggregation_degrees`` (small ``r`` for small
   defects, large ``r`` for large ones), brought to the finest layer's grid and
   L2-normalised.
2. **MSM**, the mutual scoring mechanism: for every patch of image *i* and every other
   image *j*, the distance to its nearest patch of *j*; the patch's anomaly score is the
   mean of the smallest of these distances over the other images (the ``interval``
   fraction, default the nearest 30 %: anomalies that recur in a few images are not
   masked). Scores of every layer and degree are averaged into the anomaly map.
3. **RsCIN**, re-scoring with a constrained image-level neighbourhood: image scores (the
   maximum of each map) are min-max normalised within the batch and averaged with those
   of each image's ``k`` most similar images (global features), for every ``k`` in
   ``rscin_k``, which suppresses false positives caused by noise in normal images.

Deviations from the paper
-------------------------
* Features: the paper uses ViT patch tokens (CLIP ViT-L/14-336 or DINO, four layers); here
  the offline backbones are CNNs (EfficientNet-Lite0 stages 6 and 7 by default), so the
  patch features are the multi-scale CNN maps of ``layers`` (grid = the first layer's), and the
  neighbourhood average excludes the zero padding at the borders.
* Image-level features for RsCIN: the paper uses the CLIP/DINO image embedding; here the
  global average of the deepest requested layer, L2-normalised.
* Maps are smoothed with a Gaussian of ``sigma`` input pixels before the image score is
  taken as their maximum (the paper takes the maximum of the raw upsampled map).
* Aggregation degrees 1 and 3 by default (paper: 1, 3, 5), for speed on a CPU.
* Batches larger than ``max_subset`` images are split at random (seeded) into equal
  subsets scored separately (the reference code's ``divide_num``), which bounds memory
  (``subset² × patches`` floats) and time; RsCIN always runs over the whole batch.

Batch dependence
----------------
Scores are relative to the batch: the same image gets a different score in a different
batch, and image scores are min-max normalised within the batch (in [0, 1] when RsCIN is
on). A batch needs at least two images (``InputError`` otherwise); a few dozen or more are
needed for good results, and the batch should hold mostly normal images of one kind of
object or texture. Calibrated thresholds therefore only make sense for batches drawn the
same way as the calibration batch.

``fit`` is optional and learns nothing: MuSc is zero-shot (``fit`` validates its input
and returns ``self``). Its model file holds only its parameters.

References
----------
Li, Huang, Xue & Zhou. MuSc: Zero-Shot Industrial Anomaly
Classification and Segmentation with Mutual Scoring of the Unlabeled Images. ICLR 2024.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
import torch
import torch.nn.functional as F

from ..core.constraints import Integral, Interval, ListOf, Real
from ..core.errors import InputError
from ..core.registry import register
from ..core.scores import Scores
from ..core.state_spec import StateSpec
from .feature_detector import FeatureBatch, FeatureImageDetector, _progress, local_average
from .input import ImageSource
from .params import FEATURE_COMMON, LAYERS

DEFAULT_LAYERS = ("stage6", "stage7")


def lnamd(feature: torch.Tensor, degree: int, grid: tuple[int, int]) -> torch.Tensor:
    """LNAMD of one layer: (V, C, h, w) maps → (V, L, C) L2-normalised patch features.

    Layer normalisation over each view's whole map, ``degree`` x ``degree`` neighbourhood
    average, bilinear resize to ``grid`` (the finest layer's), unit length per patch.
    """
    f = F.layer_norm(feature, feature.shape[1:])
    f = local_average(f, int(degree))
    if tuple(f.shape[-2:]) != tuple(grid):
        f = F.interpolate(f, size=grid, mode="bilinear", align_corners=False)
    return F.normalize(f.flatten(2).transpose(1, 2), dim=-1).contiguous()


def interval_bounds(n_refs: int, interval: Sequence[float]) -> tuple[int, int]:
    """Ranks [lo, hi) of the sorted reference distances averaged by the interval mean."""
    lo = int(math.floor(float(interval[0]) * n_refs))
    hi = int(math.floor(float(interval[1]) * n_refs))
    hi = min(max(hi, lo + 1), n_refs)
    return min(lo, hi - 1), hi


def mutual_scores(
    Z: torch.Tensor,
    interval: Sequence[float] = (0.0, 0.3),
    groups: np.ndarray | None = None,
    block: int = 8,
    advance: Any = None,
) -> torch.Tensor:
    """MSM: (V, L, C) unit-length patch features → (V, L) patch anomaly scores.

    For views *a* and *b* the best cosine similarity of every patch of *a* to the patches of
    *b* (and of *b* to *a*, from the same product) gives the nearest-patch distance
    ``sqrt(2 - 2 cos)``; a patch's score is the mean of its sorted distances to the other
    views between ranks ``interval`` (fractions of the number of references). Views of the
    same ``groups`` entry (tiles of one image) never score each other.
    """
    V, L, C = Z.shape
    if groups is None:
        groups = np.arange(V)
    groups = np.asarray(groups)
    best = torch.empty((V, V, L), dtype=torch.float32)
    for a in range(V):
        for b0 in range(a + 1, V, block):
            ref = Z[b0 : b0 + block]
            nb = ref.shape[0]
            sim = (Z[a] @ ref.reshape(-1, C).T).view(L, nb, L)
            best[a, b0 : b0 + nb] = sim.amax(dim=2).T
            best[b0 : b0 + nb, a] = sim.amax(dim=0)
        if advance is not None:
            advance(1)
    same = torch.from_numpy(groups[:, None] == groups[None, :])
    n_refs = int((~same).sum(dim=1).min())
    lo, hi = interval_bounds(n_refs, interval)
    out = torch.empty((V, L), dtype=torch.float32)
    for a in range(V):
        dist = (2.0 - 2.0 * best[a][~same[a]]).clamp_min_(0.0).sqrt_()  # (refs, L)
        nearest = torch.topk(dist, hi, dim=0, largest=False, sorted=True).values
        out[a] = nearest[lo:hi].mean(dim=0)
    return out


def rscin(scores: np.ndarray, embeddings: np.ndarray, ks: Sequence[int]) -> np.ndarray:
    """RsCIN: min-max normalised image scores averaged over constrained image neighbourhoods.

    For each ``k`` every image's score is replaced by the mean score of its ``k`` most
    similar images (cosine similarity of ``embeddings``; the image itself is the most similar
    one), and the results are averaged over ``ks``. Returns the scores unchanged when ``ks``
    is empty.
    """
    s = np.asarray(scores, dtype=np.float64)
    ks = [int(k) for k in ks]
    if not ks:
        return s
    span = s.max() - s.min()
    s = (s - s.min()) / span if span > 0 else np.zeros_like(s)
    e = np.asarray(embeddings, dtype=np.float64)
    e = e / np.maximum(np.linalg.norm(e, axis=1, keepdims=True), 1e-12)
    sim = e @ e.T
    np.fill_diagonal(sim, np.inf)  # an image is its own nearest neighbour
    order = np.argsort(-sim, axis=1, kind="stable")
    out = np.zeros_like(s)
    for k in ks:
        k = min(k, len(s))
        out += s[order[:, :k]].mean(axis=1)
    return out / len(ks)


@register(
    "musc",
    modality="image",
    paper=(
        "Li et al. MuSc: Zero-Shot Industrial Anomaly Classification and Segmentation with "
        "Mutual Scoring of the Unlabeled Images. ICLR 2024"
    ),
    year=2024,
    can_localise=True,
    needs_fit=False,
)
class MuSc(FeatureImageDetector):
    """MuSc (Li et al., ICLR 2024): zero-shot; the images of a batch score each other.

    Parameters
    ----------
    backbone, layers:
        Feature extractor and its layers (see ``image.backbones``); default EfficientNet-Lite0
        stages 6 and 7 (strides 16 and 32, PatchCore's layers; scored on stage 6's 16 x 16
        grid at 256 pixels). Every layer is scored separately, on the first layer's grid.
        Cost grows as (grid cells)²: stage 4 (stride 8) is 16 times slower and was no better
        on MTD.
    aggregation_degrees:
        Neighbourhood sides ``r`` of LNAMD (paper: 1, 3, 5; default 1, 3 for speed on a
        CPU); each adds one scoring pass per layer.
    interval:
        (low, high) fractions of the other images whose nearest-patch distances are
        averaged, nearest first (paper: (0, 0.3)).
    rscin_k:
        Image-neighbourhood sizes of RsCIN (paper: 1, 2, 3 on MVTec AD); empty to keep the
        raw maximum of each map as the image score.
    max_subset:
        Largest number of images scored together; bigger batches are split at random into
        equal subsets (None: never split). Memory grows as ``subset² × patches`` and time as
        ``batch × subset × patches²``.
    image_size, resize, center_crop, tile, tile_overlap:
        Preprocessing (see ``image.preprocess``). With tiles, each tile is scored against
        the tiles of the other images.
    sigma:
        Gaussian smoothing of the maps, in pixels at the network input size.
    batch_size, num_threads, device, cache_features, verbose:
        Runtime: images per backbone batch, torch threads, "auto"/"cpu"/"cuda", reuse of
        features of already seen images, progress bars.
    seed:
        Seed of the random split into subsets.

    References
    ----------
    Li et al. MuSc: Zero-Shot Industrial Anomaly Classification and Segmentation with
    Mutual Scoring of the Unlabeled Images. ICLR 2024.
    """

    scores_jointly = True  # mixed sizes: one batch, maps resized back (ImageDetector.score)
    quick_params: ClassVar[dict[str, Any]] = {
        "image_size": 128,  # stage 6 / 7 grids of 8 x 8 / 4 x 4
        "aggregation_degrees": (1, 3),
    }

    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        **FEATURE_COMMON,
        "layers": [*LAYERS, None],
        "aggregation_degrees": [ListOf(Interval(Integral, 1, 15), min_len=1, max_len=8)],
        "interval": [ListOf(Interval(Real, 0.0, 1.0), min_len=2, max_len=2)],
        "rscin_k": [ListOf(Interval(Integral, 1, 1000), max_len=16)],
        "max_subset": [Interval(Integral, 2, 1_000_000), None],
    }

    def __init__(
        self,
        *,
        backbone: str = "efficientnet_lite0",
        layers: Sequence[str] | None = DEFAULT_LAYERS,
        aggregation_degrees: Sequence[int] = (1, 3),
        interval: Sequence[float] = (0.0, 0.3),
        rscin_k: Sequence[int] = (1, 2, 3),
        max_subset: int | None = 256,
        image_size: int = 256,
        resize: str = "stretch",
        center_crop: int | None = None,
        tile: int | None = None,
        tile_overlap: float = 0.25,
        sigma: float = 4.0,
        batch_size: int = 8,
        num_threads: int | None = 2,
        device: str = "auto",
        cache_features: bool = True,
        seed: int = 0,
        verbose: bool = True,
    ):
        self.backbone = backbone
        self.layers = layers
        self.aggregation_degrees = aggregation_degrees
        self.interval = interval
        self.rscin_k = rscin_k
        self.max_subset = max_subset
        self.image_size = image_size
        self.resize = resize
        self.center_crop = center_crop
        self.tile = tile
        self.tile_overlap = tile_overlap
        self.sigma = sigma
        self.batch_size = batch_size
        self.num_threads = num_threads
        self.device = device
        self.cache_features = cache_features
        self.seed = seed
        self.verbose = verbose

    # -- parameters -------------------------------------------------------------------------
    def _check_params(self) -> None:
        self._check_common()
        degrees = list(self.aggregation_degrees)
        if not degrees or any(int(r) < 1 or int(r) != r for r in degrees):
            raise InputError(
                f"aggregation_degrees must be a non-empty list of positive integers, "
                f"got {self.aggregation_degrees!r}"
            )
        bounds = [float(v) for v in self.interval]
        if len(bounds) != 2 or not 0.0 <= bounds[0] < bounds[1] <= 1.0:
            raise InputError(
                f"interval must be (low, high) with 0 <= low < high <= 1, got {self.interval!r}"
            )
        if any(int(k) < 1 for k in self.rscin_k):
            raise InputError(f"rscin_k must hold positive integers, got {self.rscin_k!r}")
        if self.max_subset is not None and int(self.max_subset) < 2:
            raise InputError(f"max_subset must be at least 2 (or None), got {self.max_subset}")

    # -- fit: nothing to learn ----------------------------------------------------------------
    def _fit(self, data: ImageSource) -> None:
        """Zero-shot: nothing is learnt; the parameters are checked."""
        self._check_params()

    # -- score --------------------------------------------------------------------------------
    def _score(self, data: ImageSource) -> Scores:
        self._check_params()
        n = len(data)
        if n < 2:
            raise InputError(
                f"MuSc scores the images of a batch against each other: give at least 2 "
                f"images in one call (got {n}); a few dozen work best"
            )
        out_size = data.output_size(self.on_mixed_sizes)
        batches: list[FeatureBatch] = []
        layer_feats: list[list[torch.Tensor]] = []
        with self._runtime():
            for batch in self._feature_batches(data, out_size, "musc: features"):
                layer_feats.append(batch.features)
                batches.append(FeatureBatch(batch.images, batch.view_image, batch.boxes, []))
            feats = [torch.cat([f[i] for f in layer_feats]) for i in range(len(layer_feats[0]))]
            del layer_feats
            view_image = np.concatenate([b.images[b.view_image] for b in batches])
            grids = self._patch_scores(feats, view_image)
            maps = np.empty((n, *out_size), dtype=np.float32)
            start = 0
            for b in batches:
                v = len(b.view_image)
                maps[b.images] = self._maps(grids[start : start + v], b, out_size)
                start += v
        raw = maps.reshape(n, -1).max(axis=1).astype(np.float64)
        embeddings = self._image_embeddings(feats[-1], view_image, n)
        scores = rscin(raw, embeddings, list(self.rscin_k))
        return Scores(scores=scores, maps=maps, extras={"max_map_score": raw})

    def _subsets(self, n_images: int) -> list[np.ndarray]:
        """Image indices of the subsets scored together (one subset unless ``max_subset``)."""
        if self.max_subset is None or n_images <= int(self.max_subset):
            return [np.arange(n_images)]
        n_sub = math.ceil(n_images / int(self.max_subset))
        perm = np.random.default_rng(self.seed).permutation(n_images)
        return [np.sort(part) for part in np.array_split(perm, n_sub)]

    def _patch_scores(self, feats: list[torch.Tensor], view_image: np.ndarray) -> torch.Tensor:
        """MSM grids (V, h, w) of every view, averaged over layers and degrees."""
        grid = tuple(feats[0].shape[-2:])
        V = feats[0].shape[0]
        degrees = [int(r) for r in self.aggregation_degrees]
        subsets = self._subsets(int(view_image.max()) + 1)
        total = V * len(degrees) * len(feats)
        acc = torch.zeros((V, grid[0] * grid[1]), dtype=torch.float32)
        with _progress("musc: mutual scoring", total, self.verbose) as advance:
            for r in degrees:
                for f in feats:
                    Z = lnamd(f, r, grid)
                    for images in subsets:
                        views = np.flatnonzero(np.isin(view_image, images))
                        if len(np.unique(view_image[views])) < 2:
                            raise InputError("a MuSc subset holds a single image; raise max_subset")
                        acc[views] += mutual_scores(
                            Z[views], self.interval, view_image[views], advance=advance
                        )
        acc /= len(degrees) * len(feats)
        return acc.view(V, *grid)

    @staticmethod
    def _image_embeddings(feature: torch.Tensor, view_image: np.ndarray, n: int) -> np.ndarray:
        """Global features of each image for RsCIN: mean over views of the pooled map."""
        pooled = feature.mean(dim=(2, 3)).double().numpy()
        out = np.zeros((n, pooled.shape[1]), dtype=np.float64)
        np.add.at(out, view_image, pooled)
        return out / np.bincount(view_image, minlength=n)[:, None]

    # -- state: parameters only -----------------------------------------------------------------
    def _get_state(self):
        return {}, {"backbone_info": self._backbone_meta()}

    def _state_spec(self) -> StateSpec:
        """No arrays: MuSc learns nothing; the backbone layout must match."""
        return StateSpec(meta={"backbone_info": self._backbone_meta_form()})

    def _set_state(self, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
        self._check_backbone_meta(meta)
