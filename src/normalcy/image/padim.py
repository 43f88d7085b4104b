"""PaDiM: one multivariate Gaussian per patch position over pretrained features.

Fit: the maps of the chosen backbone stages (two by default; the paper uses three) are
brought to the finest grid and concatenated; a random subset of ``n_features`` channels is
kept (the paper's random dimensionality reduction); at every grid position the mean and
covariance of the training images' features are estimated (``Σ + εI`` with ε = 0.01).
Statistics are accumulated batch by batch, so the training images are never all held in
memory. Score: the Mahalanobis distance of each test patch to its position's Gaussian is the
anomaly map (upsampled and smoothed); the image score is the map's maximum.

References
----------
Defard, Setkov, Loesch & Audigier. PaDiM: a Patch Distribution Modeling Framework for
Anomaly Detection and Localization. ICPR Workshops 2021 (arXiv:2011.08785, 2020).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
import torch

from ..core.constraints import Integral, Interval, Real, Satisfies
from ..core.errors import InputError
from ..core.registry import register
from ..core.scores import Scores
from ..core.state_spec import ArraySpec, StateSpec
from .feature_detector import FeatureImageDetector, concat_layers
from .input import ImageSource
from .params import FEATURE_COMMON, LAYERS


@register(
    "padim",
    modality="image",
    paper=(
        "Defard et al. PaDiM: a Patch Distribution Modeling Framework for Anomaly Detection "
        "and Localization. ICPR Workshops 2021"
    ),
    year=2020,
    can_localise=True,
)
class PaDiM(FeatureImageDetector):
    """PaDiM (Defard et al., 2020): per-position Gaussians of random-projected features.

    Parameters
    ----------
    backbone, layers:
        Feature extractor and layers; default EfficientNet-Lite0 stages 4 and 6 (strides 8
        and 16; the paper's third, stride-4 layer quadruples the number of Gaussians for
        little gain with this backbone).
    n_features:
        Number of randomly chosen feature channels (paper: 100 for ResNet18, 550 for
        WideResNet50); all channels when larger than their number.
    epsilon:
        Regularisation added to every covariance's diagonal (paper: 0.01).
    image_size, resize, center_crop, tile, tile_overlap:
        Preprocessing (see ``image.preprocess``). With tiles, every tile shares the
        per-position Gaussians.
    sigma:
        Gaussian smoothing of the maps, in pixels at the network input size (paper: 4).
    batch_size, num_threads, device, cache_features, verbose:
        Runtime settings (see ``PatchCore``).
    seed:
        Seed of the random channel selection.

    References
    ----------
    Defard et al. PaDiM: a Patch Distribution Modeling Framework for Anomaly Detection and
    Localization. ICPR Workshops 2021.
    """

    quick_params: ClassVar[dict[str, Any]] = {"image_size": 128}

    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        **FEATURE_COMMON,
        "layers": [*LAYERS, None],
        "n_features": [Interval(Integral, 1, 4096)],
        "epsilon": [Interval(Real, 0.0, None, closed="neither")],
    }

    def __init__(
        self,
        *,
        backbone: str = "efficientnet_lite0",
        layers: Sequence[str] | None = ("stage4", "stage6"),
        n_features: int = 100,
        epsilon: float = 0.01,
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
        self.n_features = n_features
        self.epsilon = epsilon
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

    def _embed(self, features: list[torch.Tensor]) -> torch.Tensor:
        """Selected channels at every position: (V, h*w, d)."""
        # Channels are picked per layer before the coarser layers are upsampled (the same
        # result as picking after concatenation, with less to upsample).
        picked, start = [], 0
        for f in features:
            mine = self.channels_[(self.channels_ >= start) & (self.channels_ < start + f.shape[1])]
            if len(mine):
                picked.append(f[:, torch.from_numpy(mine - start)])
            else:  # keeps the finest layer's grid when none of its channels was picked
                picked.append(f.new_empty((f.shape[0], 0, *features[0].shape[-2:])))
            start += f.shape[1]
        emb = concat_layers(picked)
        v, d, h, w = emb.shape
        self._grid = (h, w)
        # contiguous: a strided view here sends torch.bmm down a slow path (30x slower)
        return emb.permute(0, 2, 3, 1).reshape(v, h * w, d).contiguous()

    def _fit(self, data: ImageSource) -> None:
        self._check_common()
        if int(self.n_features) < 1:
            raise InputError(f"n_features must be >= 1, got {self.n_features}")
        if float(self.epsilon) <= 0:
            raise InputError(f"epsilon must be > 0, got {self.epsilon}")
        out_size = data.output_size(self.on_mixed_sizes)
        total = sum(self._extractor().channels)
        rng = np.random.default_rng(self.seed)
        k = min(int(self.n_features), total)
        self.channels_ = np.sort(rng.choice(total, size=k, replace=False)).astype(np.int64)
        count = 0
        shift = s1 = s2 = None
        with self._runtime():
            for batch in self._feature_batches(data, out_size, "padim: features"):
                x = self._embed(batch.features).double()  # (V, P, d)
                if shift is None:  # sums of shifted features: no cancellation in the covariance
                    shift = x.mean(0)
                    s1 = torch.zeros(x.shape[1:], dtype=torch.float64)
                    s2 = torch.zeros((x.shape[1], k, k), dtype=torch.float64)
                x = (x - shift).transpose(0, 1)  # (P, V, d)
                s1 += x.sum(1)
                s2.baddbmm_(x.transpose(1, 2), x)
                count += x.shape[1]
            if count < 2:
                raise InputError(f"PaDiM needs at least 2 training images, got {count}")
            centred = s1 / count
            cov = s2.sub_(count * centred[:, :, None] * centred[:, None, :]).div_(count - 1)
            cov.diagonal(dim1=1, dim2=2).add_(float(self.epsilon))
            inv = torch.cholesky_inverse(torch.linalg.cholesky(cov))
            mean = centred + shift
        self.mean_ = mean.float().numpy()
        self.inv_cov_ = np.ascontiguousarray((0.5 * (inv + inv.transpose(1, 2))).float().numpy())
        self.grid_ = tuple(int(g) for g in self._grid)
        self._torch_state = None

    def _tensors(self) -> tuple[torch.Tensor, torch.Tensor]:
        if getattr(self, "_torch_state", None) is None:
            self._torch_state = (torch.from_numpy(self.mean_), torch.from_numpy(self.inv_cov_))
        return self._torch_state

    def _score(self, data: ImageSource) -> Scores:
        out_size = data.output_size(self.on_mixed_sizes)
        n = len(data)
        scores = np.empty(n, dtype=np.float64)
        maps = np.empty((n, *out_size), dtype=np.float32)
        mean, inv = self._tensors()
        with self._runtime():
            for batch in self._feature_batches(data, out_size, "padim: scoring", cache=False):
                x = self._embed(batch.features)
                if tuple(self._grid) != tuple(self.grid_):
                    raise InputError(
                        f"feature grid {self._grid} differs from the fitted grid {self.grid_}; "
                        "score with the same preprocessing as fit"
                    )
                diff = (x - mean).transpose(0, 1)  # (P, V, d)
                m2 = (torch.bmm(diff, inv) * diff).sum(-1).transpose(0, 1)  # (V, P)
                dist = m2.clamp_min(0).sqrt().reshape(-1, *self.grid_)
                view_maps = self._maps(dist, batch, out_size)
                maps[batch.images] = view_maps
                scores[batch.images] = view_maps.reshape(len(batch.images), -1).max(1)
        return Scores(scores=scores, maps=maps)

    def _get_state(self):
        arrays = {"mean": self.mean_, "inv_covariance": self.inv_cov_, "channels": self.channels_}
        return arrays, {"grid": list(self.grid_), "backbone_info": self._backbone_meta()}

    def _state_spec(self) -> StateSpec:
        """Per grid position p (the finest layer's grid) a mean (p, d) and an inverse
        covariance (p, d, d); ``channels`` picks d of the backbone's channels."""
        total = sum(c for _, c, _ in self._layer_info())
        d = min(int(self.n_features), total)
        side = self._grid_side()
        grid = [side, side]
        return StateSpec(
            arrays={
                "mean": ArraySpec((side * side, d), dtype="float32"),
                "inv_covariance": ArraySpec((side * side, d, d), dtype="float32"),
                "channels": ArraySpec((d,), dtype="int64", index_of="total"),
            },
            meta={
                "grid": [Satisfies(lambda g: g == grid, f"the feature grid {grid}")],
                "backbone_info": self._backbone_meta_form(),
            },
            dims={"total": total},
        )

    def _set_state(self, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
        self._check_backbone_meta(meta)
        self.mean_ = np.ascontiguousarray(arrays["mean"], dtype=np.float32)
        self.inv_cov_ = np.ascontiguousarray(arrays["inv_covariance"], dtype=np.float32)
        self.channels_ = np.asarray(arrays["channels"], dtype=np.int64)
        self.grid_ = tuple(int(g) for g in meta["grid"])
        p, d = self.mean_.shape
        if self.inv_cov_.shape != (p, d, d) or p != self.grid_[0] * self.grid_[1]:
            raise InputError("inconsistent PaDiM state: mean, covariances and grid disagree")
        self._torch_state = None
