"""PatchCore: nearest-neighbour search in a coreset of locally aware patch features.

Fit: the backbone's mid-level maps are averaged over each position's ``patch_size`` x
``patch_size`` neighbourhood (locally aware patch features), brought to the finest grid
and concatenated; the patches of all training images form the memory bank, reduced by
greedy coreset subsampling. Score: every test patch's distance to its nearest bank
entry is its anomaly score (the map); the image score is the largest patch score,
re-weighted by how isolated its nearest bank entry is among its own neighbours (Eq. 7).

The bank stays bounded whatever the number of training images: patches stream through a
uniform reservoir of at most ``max_candidates`` rows before the coreset is chosen, and the
bank holds at most ``max_bank`` rows. Search uses faiss: a hierarchical navigable small-world
graph by default (approximate, as the paper's reference code allows; on MTD it moves the
image AUROC by 0.0006 and searches 5x faster), or exact L2.

References
----------
Roth, Pemula, Zepeda, Schölkopf, Brox & Gehler. Towards Total Recall in Industrial Anomaly
Detection. CVPR 2022.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
import torch

from ..core.constraints import Integral, Interval, Options, Real
from ..core.errors import InputError
from ..core.registry import register
from ..core.scores import Scores
from ..core.state_spec import ArraySpec, StateSpec
from .feature_detector import FeatureImageDetector, concat_layers
from .input import ImageSource
from .params import FEATURE_COMMON, LAYERS
from .sampling import PatchReservoir, greedy_coreset

SEARCHES = ("hnsw", "exact")
HNSW_LINKS = 32  # graph degree M; faiss's default construction depth (40)
HNSW_EF_SEARCH = 8  # search depth (faiss default 16): on MTD 98 % of nearest entries found


def bank_index(bank: np.ndarray, search: str):
    """A faiss L2 index over ``bank``: exact (flat) or an HNSW graph.

    The graph is built on one thread so that the same bank always gives the same graph
    (faiss's parallel insertion is order-dependent): fit, save and load then score alike.
    """
    import faiss

    rows = np.ascontiguousarray(bank, dtype=np.float32)
    if search == "exact":
        index = faiss.IndexFlatL2(rows.shape[1])
        index.add(rows)
        return index
    index = faiss.IndexHNSWFlat(rows.shape[1], HNSW_LINKS)
    index.hnsw.efSearch = HNSW_EF_SEARCH
    threads = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)
    try:
        index.add(rows)
    finally:
        faiss.omp_set_num_threads(threads)
    return index


@register(
    "patchcore",
    modality="image",
    paper="Roth et al. Towards Total Recall in Industrial Anomaly Detection. CVPR 2022",
    year=2022,
    can_localise=True,
)
class PatchCore(FeatureImageDetector):
    """PatchCore (Roth et al., CVPR 2022): kNN distance to a coreset of normal patch features.

    Parameters
    ----------
    backbone, layers:
        Feature extractor and its layers (see ``image.backbones``); default EfficientNet-Lite0
        stages 6 and 7 (strides 16 and 32: the last two MBConv stages before the head,
        which play the role of WideResNet50's layer2 + layer3 in the paper for this much
        shallower network).
    patch_size:
        Side of the neighbourhood averaged into each patch feature (paper: 3).
    coreset_ratio:
        Bank size as a fraction of all training patches (paper: 0.01-0.1), capped by
        ``max_bank``.
    max_bank:
        Hard cap on the memory bank (rows); bounds memory and scoring time.
    max_candidates:
        Patches kept (uniformly at random) from the training stream for coreset selection.
    projection_dim:
        Dimension of the random projection used by the greedy coreset (paper: 128).
    num_neighbors:
        Neighbours of the nearest bank entry used to re-weight the image score (b in Eq. 7).
    search:
        Nearest-neighbour search: "hnsw" (approximate graph search, default) or "exact".
    image_size, resize, center_crop, tile, tile_overlap:
        Preprocessing (see ``image.preprocess``).
    sigma:
        Gaussian smoothing of the maps, in pixels at the network input size (paper: 4).
    batch_size, num_threads, device, cache_features, verbose:
        Runtime: images per backbone batch, torch/faiss threads, "auto"/"cpu"/"cuda",
        reuse of features of already seen training images (fit only), progress bars.
    seed:
        Seed of the reservoir, projection and coreset start.

    References
    ----------
    Roth et al. Towards Total Recall in Industrial Anomaly Detection. CVPR 2022.
    """

    quick_params: ClassVar[dict[str, Any]] = {"image_size": 128, "max_bank": 2000}

    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        **FEATURE_COMMON,
        "layers": [*LAYERS, None],
        "patch_size": [Interval(Integral, 1, 15)],
        "coreset_ratio": [Interval(Real, 0.0, 1.0, closed="right")],
        "max_bank": [Interval(Integral, 1, 10_000_000)],
        "max_candidates": [Interval(Integral, 1, 100_000_000)],
        "projection_dim": [Interval(Integral, 1, 65_536), None],
        "num_neighbors": [Interval(Integral, 1, 1000)],
        "search": [Options(str, SEARCHES)],
    }

    def __init__(
        self,
        *,
        backbone: str = "efficientnet_lite0",
        layers: Sequence[str] | None = ("stage6", "stage7"),
        patch_size: int = 3,
        coreset_ratio: float = 0.1,
        max_bank: int = 8192,
        max_candidates: int = 100_000,
        projection_dim: int | None = 128,
        num_neighbors: int = 9,
        search: str = "hnsw",
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
        self.patch_size = patch_size
        self.coreset_ratio = coreset_ratio
        self.max_bank = max_bank
        self.max_candidates = max_candidates
        self.projection_dim = projection_dim
        self.num_neighbors = num_neighbors
        self.search = search
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

    def _check_params(self) -> None:
        self._check_common()
        if not 0.0 < float(self.coreset_ratio) <= 1.0:
            raise InputError(f"coreset_ratio must lie in (0, 1], got {self.coreset_ratio}")
        if int(self.max_bank) < 1 or int(self.max_candidates) < 1:
            raise InputError("max_bank and max_candidates must be >= 1")
        if int(self.patch_size) < 1 or int(self.num_neighbors) < 1:
            raise InputError("patch_size and num_neighbors must be >= 1")
        if self.search not in SEARCHES:
            raise InputError(f"search must be one of {SEARCHES}, got {self.search!r}")

    def _embed(self, features: list[torch.Tensor]) -> torch.Tensor:
        """Locally aware patch features (V, D, h, w)."""
        return concat_layers(features, pool=int(self.patch_size))

    # -- fit ----------------------------------------------------------------------------------
    def _fit(self, data: ImageSource) -> None:
        self._check_params()
        out_size = data.output_size(self.on_mixed_sizes)
        reservoir: PatchReservoir | None = None
        total = 0
        with self._runtime():
            for batch in self._feature_batches(data, out_size, "patchcore: features"):
                emb = self._embed(batch.features)
                v, d, h, w = emb.shape
                patches = emb.permute(0, 2, 3, 1).reshape(-1, d).numpy()
                if reservoir is None:
                    expected = len(data) * (v / len(batch.images)) * h * w
                    rate = min(1.0, int(self.max_candidates) / expected)
                    reservoir = PatchReservoir(int(self.max_candidates), rate, seed=self.seed)
                reservoir.add(patches)
                total += len(patches)
            pool = reservoir.rows()
            n_bank = min(int(self.max_bank), max(1, math.ceil(self.coreset_ratio * total)))
            if len(pool) > n_bank:
                keep = greedy_coreset(
                    torch.from_numpy(pool), n_bank, self.projection_dim, seed=self.seed
                )
                pool = pool[np.sort(keep)]
        self.memory_bank_ = np.ascontiguousarray(pool, dtype=np.float32)
        self.n_train_patches_ = int(total)
        self._index_ = None
        self._index()  # built once here, not inside the first score()

    # -- score --------------------------------------------------------------------------------
    def _index(self):
        if getattr(self, "_index_", None) is None:
            self._index_ = bank_index(self.memory_bank_, self.search)
        return self._index_

    def _score(self, data: ImageSource) -> Scores:
        out_size = data.output_size(self.on_mixed_sizes)
        n = len(data)
        scores = np.empty(n, dtype=np.float64)
        maps = np.empty((n, *out_size), dtype=np.float32)
        with self._runtime():
            index = self._index()
            for batch in self._feature_batches(data, out_size, "patchcore: scoring", cache=False):
                emb = self._embed(batch.features)
                v, d, h, w = emb.shape
                q = np.ascontiguousarray(emb.permute(0, 2, 3, 1).reshape(-1, d).numpy())
                dist2, nn_idx = index.search(q, 1)
                dist = np.sqrt(np.maximum(dist2[:, 0], 0.0)).reshape(v, h * w)
                view_scores = self._reweighted(q.reshape(v, h * w, d), dist, nn_idx.reshape(v, -1))
                img_scores = np.full(len(batch.images), -np.inf)
                np.maximum.at(img_scores, batch.view_image, view_scores)
                scores[batch.images] = img_scores
                grids = torch.from_numpy(dist.reshape(v, h, w).astype(np.float32))
                maps[batch.images] = self._maps(grids, batch, out_size)
        return Scores(scores=scores, maps=maps)

    def _reweighted(self, q: np.ndarray, dist: np.ndarray, nn_idx: np.ndarray) -> np.ndarray:
        """Eq. 7: s = (1 - exp(s*) / sum_{m in N_b(m*)} exp(|m_test* - m|)) * s*."""
        bank = self.memory_bank_
        b = min(int(self.num_neighbors), len(bank))
        worst = dist.argmax(axis=1)
        s_star = dist[np.arange(len(dist)), worst].astype(np.float64)
        if b < 2:
            return s_star
        m_test = q[np.arange(len(q)), worst]  # (V, D)
        m_star = bank[nn_idx[np.arange(len(q)), worst]]
        _, neigh = self._index().search(np.ascontiguousarray(m_star), b)  # N_b(m*)
        diff = m_test[:, None, :].astype(np.float64) - bank[neigh].astype(np.float64)
        d_neigh = np.sqrt((diff * diff).sum(-1))  # (V, b)
        # exp(s*) / sum exp(d_j) computed stably as 1 / sum exp(d_j - s*).
        weight = 1.0 - 1.0 / np.exp(d_neigh - s_star[:, None]).sum(axis=1)
        return weight * s_star

    # -- state --------------------------------------------------------------------------------
    def _get_state(self):
        meta = {
            "n_train_patches": self.n_train_patches_,
            "backbone_info": self._backbone_meta(),
            "search": self.search,
        }
        return {"memory_bank": self.memory_bank_}, meta

    def _state_spec(self) -> StateSpec:
        """A (n, d) float32 bank, n in [1, max_bank], d the backbone's channels summed; the
        search index is rebuilt from the bank on load, never read from the file."""
        dim = sum(c for _, c, _ in self._layer_info())
        return StateSpec(
            arrays={"memory_bank": ArraySpec(("n", dim), dtype="float32")},
            meta={
                "n_train_patches": [Interval(Integral, 1, None)],
                "backbone_info": self._backbone_meta_form(),
                "search": [Options(str, SEARCHES)],
            },
            optional_meta=frozenset({"search"}),
            dim_bounds={"n": (1, int(self.max_bank))},
        )

    def _set_state(self, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
        bank = np.asarray(arrays["memory_bank"], dtype=np.float32)
        if bank.ndim != 2 or len(bank) == 0:
            raise InputError(f"memory_bank must be a non-empty 2-D array, got shape {bank.shape}")
        self._check_backbone_meta(meta)
        self.memory_bank_ = np.ascontiguousarray(bank)
        self.n_train_patches_ = int(meta.get("n_train_patches", 0))
        self.search = meta.get("search", "exact")  # files from before the graph search: exact
        self._index_ = None
