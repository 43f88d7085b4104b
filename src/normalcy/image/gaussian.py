"""Gaussian AD: a multivariate Gaussian per feature level of a pretrained network.

Fit: for each chosen level, the spatially averaged feature vectors of the training images
are modelled by one multivariate Gaussian whose covariance is estimated with Ledoit-Wolf
shrinkage. Optionally (``npca_variance``), each level is first projected onto its
*least*-variance principal components, which Rippel et al. find the most discriminative
("negated PCA"). Score: the mean over levels of the Mahalanobis distances.

Working point (Sec. 3.3 of the paper): under the Gaussian model the squared Mahalanobis
distance of a normal sample follows a chi-squared law with k degrees of freedom (k the
level's dimension), so ``working_point(fpr)`` sets the threshold at the mean over levels of
``sqrt(chi2.ppf(1 - fpr, k))`` without needing held-out data (exact when the levels'
distances move together, conservative when they are independent).

Maps (an addition; the paper scores whole images): the unpooled features of
``map_layers`` are scored per position by a location-independent Gaussian of each such
level (Ledoit-Wolf on a random subset of training positions); the per-level distances are
averaged on the finest grid, upsampled and smoothed.

References
----------
Rippel, Mertens & Merhof. Modeling the Distribution of Normal Data in Pre-Trained Deep
Features for Anomaly Detection. ICPR 2020.
Ledoit & Wolf. A well-conditioned estimator for large-dimensional covariance matrices.
Journal of Multivariate Analysis 88, 2004.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
import torch
import torch.nn.functional as F

from ..core.constraints import Integral, Interval, Real
from ..core.errors import InputError
from ..core.registry import register
from ..core.scores import Scores
from ..core.state_spec import ArraySpec, StateSpec
from ..core.threshold import Threshold
from .backbones import backbone_layers
from .feature_detector import FeatureImageDetector
from .input import ImageSource
from .params import FEATURE_COMMON, LAYER, LAYERS
from .sampling import PatchReservoir

MAX_MAP_POSITIONS = 50_000  # training positions per level used for the map Gaussians
RIDGE = 1e-6  # added to a singular covariance's diagonal, times max(mean variance, 1)


def _ledoit_wolf(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(mean, precision) of ``x`` (n, d) with Ledoit-Wolf shrinkage (scikit-learn's
    estimator); a singular covariance (features that do not vary) gets a small ridge, so
    the Cholesky inversion always succeeds."""
    from sklearn.covariance import ledoit_wolf

    x = x.astype(np.float64)
    mean = x.mean(axis=0)
    cov, _ = ledoit_wolf(x - mean, assume_centered=True)
    cov_t = torch.from_numpy(cov)
    chol, info = torch.linalg.cholesky_ex(cov_t)
    if int(info) != 0:
        # Features that do not vary (constant training images) give a singular covariance; a
        # ridge relative to its scale (with an absolute floor) makes it positive definite.
        ridge = RIDGE * max(float(np.trace(cov)) / len(cov), 1.0)
        chol = torch.linalg.cholesky(cov_t + ridge * torch.eye(len(cov), dtype=cov_t.dtype))
    prec = torch.cholesky_inverse(chol).numpy()
    return mean, 0.5 * (prec + prec.T)


def _npca_components(x: np.ndarray, variance: float) -> np.ndarray:
    """Principal axes (k, d) left after dropping the leading components that explain
    ``variance`` of the total (the paper's NPCA; the boundary component is kept)."""
    from sklearn.decomposition import PCA

    pca = PCA(n_components=None, svd_solver="full").fit(x.astype(np.float64))
    cum = np.cumsum(pca.explained_variance_ratio_)
    last = int(np.argmax(cum > variance)) if np.any(cum > variance) else len(cum) - 1
    return pca.components_[max(last - 1, 0) :]


def _mahalanobis(x: np.ndarray, mean: np.ndarray, prec: np.ndarray) -> np.ndarray:
    diff = x.astype(np.float64) - mean
    return np.sqrt(np.maximum(np.einsum("ni,ij,nj->n", diff, prec, diff), 0.0))


@register(
    "gaussian",
    modality="image",
    paper=(
        "Rippel, Mertens & Merhof. Modeling the Distribution of Normal Data in Pre-Trained "
        "Deep Features for Anomaly Detection. ICPR 2020"
    ),
    year=2020,
    can_localise=True,
)
class GaussianAD(FeatureImageDetector):
    """Gaussian AD (Rippel et al., ICPR 2020): Mahalanobis distance per feature level.

    Parameters
    ----------
    backbone, layers:
        Feature extractor and the levels modelled for the image score; default all nine
        stages of EfficientNet-Lite0 (the paper uses all levels of EfficientNet-B4).
    map_layers:
        Levels scored per position for the anomaly maps (strides 8 and 16 by default);
        None for no maps (faster when only image scores are wanted).
    npca_variance:
        If set (the paper: 0.99), keep only the principal components left after the
        leading ones that explain this fraction of the variance, per level.
    image_size, resize, center_crop, tile, tile_overlap:
        Preprocessing (see ``image.preprocess``); the image score of a tiled image is the
        largest of its tiles' scores.
    sigma:
        Gaussian smoothing of the maps, in pixels at the network input size.
    batch_size, num_threads, device, cache_features, verbose:
        Runtime settings (see ``PatchCore``).
    seed:
        Seed of the subsample of positions used for the map Gaussians.

    References
    ----------
    Rippel, Mertens & Merhof. Modeling the Distribution of Normal Data in Pre-Trained Deep
    Features for Anomaly Detection. ICPR 2020.
    """

    quick_params: ClassVar[dict[str, Any]] = {"image_size": 128}

    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        **FEATURE_COMMON,
        "layers": [*LAYERS, LAYER, None],
        "map_layers": [*LAYERS, LAYER, None],
        "npca_variance": [Interval(Real, 0.0, 1.0, closed="neither"), None],
    }

    def __init__(
        self,
        *,
        backbone: str = "efficientnet_lite0",
        layers: Sequence[str] | None = None,
        map_layers: Sequence[str] | None = ("stage4", "stage6"),
        npca_variance: float | None = None,
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
        self.map_layers = map_layers
        self.npca_variance = npca_variance
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

    # -- layers ---------------------------------------------------------------------------------
    def _level_names(self) -> list[str]:
        if self.layers is None:
            return backbone_layers(self.backbone)
        return [self.layers] if isinstance(self.layers, str) else list(self.layers)

    def _map_names(self) -> list[str]:
        if self.map_layers is None:
            return []
        return [self.map_layers] if isinstance(self.map_layers, str) else list(self.map_layers)

    def _extractor(self):
        ext = getattr(self, "_extractor_", None)
        if ext is None:
            from .backbones import load_backbone
            from .feature_detector import resolve_device

            wanted = list(dict.fromkeys(self._level_names() + self._map_names()))
            ext = load_backbone(self.backbone, wanted, device=resolve_device(self.device))
            self._extractor_ = ext
        return ext

    def _positions(self) -> tuple[list[int], list[int]]:
        """Indices, in the extractor's output, of the image levels and the map levels."""
        order = list(self._extractor().layers)
        return [order.index(n) for n in self._level_names()], [
            order.index(n) for n in self._map_names()
        ]

    # -- fit ----------------------------------------------------------------------------------
    def _fit(self, data: ImageSource) -> None:
        self._check_common()
        if self.npca_variance is not None and not 0.0 < float(self.npca_variance) < 1.0:
            raise InputError(f"npca_variance must lie in (0, 1), got {self.npca_variance}")
        if len(data) < 2:
            raise InputError(
                f"the Gaussian model needs at least 2 training images, got {len(data)}"
            )
        out_size = data.output_size(self.on_mixed_sizes)
        levels, map_levels = self._positions()
        pooled: list[list[np.ndarray]] = [[] for _ in levels]
        local: list[PatchReservoir] = []
        with self._runtime():
            for batch in self._feature_batches(data, out_size, "gaussian: features"):
                for j, li in enumerate(levels):
                    pooled[j].append(batch.features[li].mean(dim=(2, 3)).double().numpy())
                for j, li in enumerate(map_levels):
                    f = batch.features[li]
                    rows = f.permute(0, 2, 3, 1).reshape(-1, f.shape[1]).numpy()
                    if len(local) <= j:  # bounded subset of the training positions
                        per_image = len(rows) / len(batch.images)
                        rate = MAX_MAP_POSITIONS / (per_image * len(data))
                        local.append(PatchReservoir(MAX_MAP_POSITIONS, rate, seed=self.seed + j))
                    local[j].add(rows)
            self.means_, self.precisions_, self.components_ = [], [], []
            for feats in pooled:
                x = np.concatenate(feats)
                comp = None
                if self.npca_variance is not None:
                    # contiguous, as a loaded model holds it: the same BLAS path, same bits
                    comp = np.ascontiguousarray(_npca_components(x, float(self.npca_variance)))
                    x = x @ comp.T
                mean, prec = _ledoit_wolf(x)
                self.means_.append(mean)
                self.precisions_.append(prec)
                self.components_.append(comp)
            self.map_means_, self.map_precisions_ = [], []
            for reservoir in local:
                mean, prec = _ledoit_wolf(reservoir.rows())
                self.map_means_.append(mean)
                self.map_precisions_.append(prec)

    # -- score --------------------------------------------------------------------------------
    def _level_scores(self, features: list[torch.Tensor], levels: list[int]) -> np.ndarray:
        """(V, n_levels) Mahalanobis distances of the pooled features."""
        out = []
        for j, li in enumerate(levels):
            x = features[li].mean(dim=(2, 3)).double().numpy()
            if self.components_[j] is not None:
                x = x @ self.components_[j].T
            out.append(_mahalanobis(x, self.means_[j], self.precisions_[j]))
        return np.stack(out, axis=1)

    def _map_grid(self, features: list[torch.Tensor], map_levels: list[int]) -> torch.Tensor:
        """(V, h, w) mean over map levels of per-position distances, on the finest grid."""
        grids = []
        for j, li in enumerate(map_levels):
            f = features[li]
            v, c, h, w = f.shape
            mean = torch.from_numpy(self.map_means_[j]).float()
            prec = torch.from_numpy(self.map_precisions_[j]).float()
            diff = f.permute(0, 2, 3, 1).reshape(-1, c) - mean
            m2 = ((diff @ prec) * diff).sum(1).clamp_min(0).sqrt()
            grids.append(m2.reshape(v, 1, h, w))
        size = max((g.shape[-2:] for g in grids), key=lambda s: s[0] * s[1])
        grids = [
            g if g.shape[-2:] == size else F.interpolate(g, size=size, mode="bilinear")
            for g in grids
        ]
        return torch.cat(grids, dim=1).mean(1)

    def _score(self, data: ImageSource) -> Scores:
        out_size = data.output_size(self.on_mixed_sizes)
        n = len(data)
        levels, map_levels = self._positions()
        scores = np.empty(n, dtype=np.float64)
        maps = np.empty((n, *out_size), dtype=np.float32) if map_levels else None
        extras = np.empty((n, len(levels)), dtype=np.float64)
        with self._runtime():
            for batch in self._feature_batches(data, out_size, "gaussian: scoring", cache=False):
                per_level = self._level_scores(batch.features, levels)  # (V, L)
                img = np.full((len(batch.images), len(levels)), -np.inf)
                np.maximum.at(img, batch.view_image, per_level)
                extras[batch.images] = img
                scores[batch.images] = img.mean(1)
                if maps is not None:
                    grid = self._map_grid(batch.features, map_levels)
                    maps[batch.images] = self._maps(grid, batch, out_size)
        return Scores(scores=scores, maps=maps, extras={"level_distances": extras})

    # -- the paper's working point ----------------------------------------------------------------
    def level_dims(self) -> list[int]:
        """Dimension of each modelled level (after NPCA when enabled)."""
        self._require_fitted()
        return [int(len(m)) for m in self.means_]

    def working_point(self, fpr: float = 0.01) -> Threshold:
        """Set and return the threshold the Gaussian model implies for a false-positive rate.

        For each level, ``sqrt(chi2.ppf(1 - fpr, k))`` bounds the Mahalanobis distance of
        a fraction ``1 - fpr`` of normal samples; the threshold on the (mean over levels)
        score is the mean of these bounds. No held-out data is needed.
        """
        from scipy.stats import chi2

        self._require_fitted()
        fpr = float(fpr)
        if not 0.0 < fpr < 1.0:
            raise InputError(f"fpr must be strictly between 0 and 1, got {fpr}")
        bounds = [math.sqrt(chi2.ppf(1.0 - fpr, k)) for k in self.level_dims()]
        self.threshold = Threshold(
            value=float(np.mean(bounds)), method="chi2", rate=fpr, n_calibration=0
        )
        return self.threshold

    # -- state --------------------------------------------------------------------------------
    def _get_state(self):
        arrays: dict[str, np.ndarray] = {}
        for j, (m, p, c) in enumerate(
            zip(self.means_, self.precisions_, self.components_, strict=True)
        ):
            arrays[f"mean_{j}"] = m
            arrays[f"precision_{j}"] = p
            if c is not None:
                arrays[f"components_{j}"] = c
        for j, (m, p) in enumerate(zip(self.map_means_, self.map_precisions_, strict=True)):
            arrays[f"map_mean_{j}"] = m
            arrays[f"map_precision_{j}"] = p
        meta = {
            "n_levels": len(self.means_),
            "n_map_levels": len(self.map_means_),
            "backbone_info": self._backbone_meta(),
        }
        return arrays, meta

    def _extractor_layers(self) -> list[str]:
        return list(dict.fromkeys(self._level_names() + self._map_names()))

    def _state_spec(self) -> StateSpec:
        """Per level j a mean (k_j,) and precision (k_j, k_j), k_j the level's channels (or,
        with NPCA, the kept components (k_j, c_j)); per map level a mean and precision of
        its channels."""
        channels = {name: c for name, c, _ in self._layer_info()}
        arrays: dict[str, ArraySpec] = {}
        for j, name in enumerate(self._level_names()):
            c = channels[name]
            k: int | str = c if self.npca_variance is None else f"k{j}"
            arrays[f"mean_{j}"] = ArraySpec((k,), dtype="float64")
            arrays[f"precision_{j}"] = ArraySpec((k, k), dtype="float64")
            if self.npca_variance is not None:
                arrays[f"components_{j}"] = ArraySpec((k, c), dtype="float64")
        for j, name in enumerate(self._map_names()):
            c = channels[name]
            arrays[f"map_mean_{j}"] = ArraySpec((c,), dtype="float64")
            arrays[f"map_precision_{j}"] = ArraySpec((c, c), dtype="float64")
        n, n_map = len(self._level_names()), len(self._map_names())
        bounds = {f"k{j}": (1, channels[name]) for j, name in enumerate(self._level_names())}
        return StateSpec(
            arrays=arrays,
            meta={
                "n_levels": [Interval(Integral, n, n)],
                "n_map_levels": [Interval(Integral, n_map, n_map)],
                "backbone_info": self._backbone_meta_form(),
            },
            dim_bounds=bounds if self.npca_variance is not None else {},
        )

    def _set_state(self, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
        self._check_backbone_meta(meta)
        n, n_map = int(meta["n_levels"]), int(meta["n_map_levels"])
        if n != len(self._level_names()) or n_map != len(self._map_names()):
            raise InputError("saved Gaussian state does not match the detector's layers")
        self.means_ = [np.asarray(arrays[f"mean_{j}"], np.float64) for j in range(n)]
        self.precisions_ = [np.asarray(arrays[f"precision_{j}"], np.float64) for j in range(n)]
        self.components_ = [
            np.asarray(arrays[f"components_{j}"], np.float64)
            if f"components_{j}" in arrays
            else None
            for j in range(n)
        ]
        self.map_means_ = [np.asarray(arrays[f"map_mean_{j}"], np.float64) for j in range(n_map)]
        self.map_precisions_ = [
            np.asarray(arrays[f"map_precision_{j}"], np.float64) for j in range(n_map)
        ]
