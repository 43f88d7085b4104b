"""Training-free video baseline: a PatchCore memory of frame patches plus motion.

Appearance: every frame goes through a frozen EfficientNet-Lite (``image.backbones``) at
``input_height`` pixels high (aspect kept); the maps of ``layer`` are averaged over each
position's ``patch_size`` neighbourhood (PatchCore's locally aware patch features) and
the patches of the normal clips form a memory bank, reduced by greedy coreset selection
(``image.sampling``) and searched with faiss (``image.patchcore.bank_index``). A test
patch's appearance score is its distance to the nearest bank entry.

Motion: the magnitude of the dense optical flow (Farnebäck, OpenCV) from the previous
frame, computed ``flow_height`` pixels high and averaged over ``motion_pool`` grid cells
around each patch. A patch's motion score is that magnitude.

Both are divided by their 99th percentile on normal training patches (appearance: held-out
patches of the training clips against the bank), so the two are on one scale with no
tuning; the frame score is ``appearance_weight * max appearance + motion_weight * max
motion`` over the frame's patches, smoothed over time by a Gaussian of ``temporal_sigma``
frames within each clip. Maps are the per-patch sums, upsampled to the frame size.

References
----------
Roth et al. Towards Total Recall in Industrial Anomaly Detection. CVPR 2022 (the memory).
Farnebäck. Two-Frame Motion Estimation Based on Polynomial Expansion. SCIA 2003 (the flow).
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import numpy as np

from ..core.constraints import Integral, Interval, Options, Real
from ..core.registry import register
from ..core.state_spec import ArraySpec, StateSpec
from .base import VideoDetector
from .input import VideoSource

MOTIONS = ("flow", "none")
SEARCHES = ("exact", "hnsw")
LITE = ("efficientnet_lite0", "efficientnet_lite1", "efficientnet_lite2")
LAYERS = tuple(f"stage{i}" for i in range(2, 7))


@register(
    "video_patchcore",
    modality="video",
    paper="Roth et al. Towards Total Recall in Industrial Anomaly Detection. CVPR 2022 "
    "(patch memory per frame) + Farnebäck optical flow, SCIA 2003",
    year=2022,
    can_localise=True,
)
class VideoPatchCore(VideoDetector):
    """Training-free video baseline: PatchCore memory of frame patches + flow magnitude.

    Parameters
    ----------
    backbone, layer:
        Offline EfficientNet-Lite and the stage whose maps are the patch features (default
        stage4, stride 8: 40 channels).
    input_height:
        Height the frames are resized to for the backbone (aspect ratio kept).
    patch_size:
        Neighbourhood (grid cells) averaged into each appearance patch feature.
    coreset_ratio, max_bank, max_candidates:
        Memory bank: a fraction of the training patches chosen by greedy coreset, capped at
        ``max_bank`` rows, selected from at most ``max_candidates`` random patches.
    search:
        "exact" (flat L2) or "hnsw" (approximate graph) nearest-neighbour search.
    motion:
        "flow" (optical-flow magnitude) or "none" (appearance only).
    flow_height, motion_pool:
        Height at which the flow is computed; grid cells averaged around each patch.
    appearance_weight, motion_weight:
        Weights of the two normalised scores (equal by default; not tuned).
    temporal_sigma:
        Gaussian smoothing of frame scores along each clip, in frames (0 = none; streaming
        scores are never smoothed).
    batch_size, num_threads, seed, verbose:
        Frames per backbone call, CPU threads, seed of sampling and coreset, progress.

    References
    ----------
    Roth et al. Towards Total Recall in Industrial Anomaly Detection. CVPR 2022.
    Farnebäck. Two-Frame Motion Estimation Based on Polynomial Expansion. SCIA 2003.
    """

    quick_params: ClassVar[dict[str, Any]] = {
        "input_height": 64,
        "flow_height": 32,
        "max_bank": 256,
        "max_candidates": 4000,
    }
    can_stream: ClassVar[bool] = True

    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "backbone": [Options(str, LITE)],
        "layer": [Options(str, LAYERS)],
        "input_height": [Interval(Integral, 32, 2048)],
        "patch_size": [Interval(Integral, 1, 15)],
        "coreset_ratio": [Interval(Real, 0.0, 1.0, closed="right")],
        "max_bank": [Interval(Integral, 1, 1_000_000)],
        "max_candidates": [Interval(Integral, 2, 10_000_000)],
        "search": [Options(str, SEARCHES)],
        "motion": [Options(str, MOTIONS)],
        "flow_height": [Interval(Integral, 16, 2048)],
        "motion_pool": [Interval(Integral, 1, 31)],
        "appearance_weight": [Interval(Real, 0.0, None)],
        "motion_weight": [Interval(Real, 0.0, None)],
        "temporal_sigma": [Interval(Real, 0.0, 100.0)],
        "batch_size": [Interval(Integral, 1, 1024)],
        "num_threads": [Interval(Integral, 1, 256), None],
        "seed": [Interval(Integral, 0, None)],
        "verbose": [bool],
    }

    def __init__(
        self,
        *,
        backbone: str = "efficientnet_lite0",
        layer: str = "stage4",
        input_height: int = 160,
        patch_size: int = 3,
        coreset_ratio: float = 0.1,
        max_bank: int = 4096,
        max_candidates: int = 40_000,
        search: str = "exact",
        motion: str = "flow",
        flow_height: int = 120,
        motion_pool: int = 5,
        appearance_weight: float = 1.0,
        motion_weight: float = 1.0,
        temporal_sigma: float = 3.0,
        batch_size: int = 8,
        num_threads: int | None = 1,
        seed: int = 0,
        verbose: bool = True,
    ):
        self.backbone = backbone
        self.layer = layer
        self.input_height = input_height
        self.patch_size = patch_size
        self.coreset_ratio = coreset_ratio
        self.max_bank = max_bank
        self.max_candidates = max_candidates
        self.search = search
        self.motion = motion
        self.flow_height = flow_height
        self.motion_pool = motion_pool
        self.appearance_weight = appearance_weight
        self.motion_weight = motion_weight
        self.temporal_sigma = temporal_sigma
        self.batch_size = batch_size
        self.num_threads = num_threads
        self.seed = seed
        self.verbose = verbose

    @property
    def temporal_window(self) -> int:  # type: ignore[override]
        return 2 if self.motion == "flow" else 1

    # -- features -----------------------------------------------------------------------------
    def _extractor(self):
        from ..image.backbones import load_backbone

        ext = getattr(self, "_extractor_", None)
        if ext is None:
            ext = self._extractor_ = load_backbone(self.backbone, (self.layer,), device="cpu")
        return ext

    def _dim(self) -> int:
        from ..image.backbones import layer_info

        return int(layer_info(self.backbone, (self.layer,))[0][1])

    def _appearance(self, frames: np.ndarray):
        """Patch features (n, h, w, D) float32 of frames (n, H, W, C)."""
        import torch
        import torch.nn.functional as F

        from ..image.feature_detector import local_average

        ext = self._extractor()
        x = torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2)
        if x.shape[1] == 1:
            x = x.expand(-1, 3, -1, -1)
        h, w = x.shape[-2:]
        width = max(8, int(round(w * int(self.input_height) / h)))
        x = F.interpolate(x, size=(int(self.input_height), width), mode="bilinear")
        mean = torch.tensor(ext.mean).view(1, 3, 1, 1)
        std = torch.tensor(ext.std).view(1, 3, 1, 1)
        x = ((x - mean) / std).contiguous(memory_format=torch.channels_last)
        with torch.inference_mode():
            feat = ext(x)[0].float()
            feat = local_average(feat, int(self.patch_size))
        return feat.permute(0, 2, 3, 1).contiguous().numpy()

    def _motion(self, frames: np.ndarray, previous: np.ndarray | None, grid: tuple[int, int]):
        """Flow magnitude pooled to the patch grid: (n, h, w) float32."""
        import torch
        import torch.nn.functional as F

        from .motion import flow_magnitude, to_gray_u8

        n = len(frames)
        if self.motion == "none":
            return np.zeros((n, *grid), np.float32)
        stack = frames if previous is None else np.concatenate([previous[None], frames])
        gray = to_gray_u8(stack, int(self.flow_height))
        if previous is None:
            gray = np.concatenate([gray[:1], gray])
        mags = np.stack([flow_magnitude(gray[i], gray[i + 1]) for i in range(n)])
        t = torch.from_numpy(mags)[:, None]
        t = F.adaptive_avg_pool2d(t, grid)
        k = int(self.motion_pool)
        if k > 1:
            t = F.avg_pool2d(t, k, 1, k // 2, count_include_pad=False)
        return t[:, 0].numpy()

    def _chunks(self, data: VideoSource, i: int):
        """(appearance (n, h, w, D), motion (n, h, w)) of clip ``i`` in chunks."""
        previous = None
        for _, frames in data.iter_chunks(i, int(self.batch_size)):
            app = self._appearance(frames)
            mot = self._motion(frames, previous, app.shape[1:3])
            previous = frames[-1]
            yield app, mot

    def _session(self):
        from ..image.feature_detector import torch_threads

        return torch_threads(self.num_threads)

    # -- fit ----------------------------------------------------------------------------------
    def _fit(self, data: VideoSource) -> None:
        import torch

        from ..image.patchcore import bank_index
        from ..image.sampling import PatchReservoir, greedy_coreset
        from ..progress import progress_bar

        reservoir: PatchReservoir | None = None
        motion_rows: list[np.ndarray] = []
        total = 0
        rng = np.random.default_rng(int(self.seed))
        with self._session(), progress_bar("video_patchcore: fit", len(data), self.verbose) as bar:
            for i in range(len(data)):
                bar()
                for app, mot in self._chunks(data, i):
                    rows = app.reshape(-1, app.shape[-1])
                    if reservoir is None:
                        expected = data.n_frames * app.shape[1] * app.shape[2]
                        rate = min(1.0, int(self.max_candidates) / expected)
                        reservoir = PatchReservoir(int(self.max_candidates), rate, seed=self.seed)
                    reservoir.add(rows)
                    total += len(rows)
                    motion_rows.append(mot.reshape(-1))
            assert reservoir is not None
            pool = reservoir.rows()
            perm = rng.permutation(len(pool))
            n_held = len(pool) // 10 if len(pool) >= 20 else 0
            held, pool = pool[perm[:n_held]], pool[perm[n_held:]]
            n_bank = min(int(self.max_bank), max(1, math.ceil(self.coreset_ratio * total)))
            if len(pool) > n_bank:
                keep = greedy_coreset(torch.from_numpy(pool), n_bank, 128, seed=self.seed)
                pool = pool[np.sort(keep)]
            self.memory_bank_ = np.ascontiguousarray(pool, dtype=np.float32)
            self._index_ = bank_index(self.memory_bank_, self.search)
            if len(held):
                dist = self._nearest(held)
                self.appearance_scale_ = _positive(float(np.quantile(dist, 0.99)))
            else:
                self.appearance_scale_ = 1.0
        motion = np.concatenate(motion_rows)
        self.motion_scale_ = _positive(float(np.quantile(motion, 0.99)))
        self.n_train_patches_ = int(total)

    def _nearest(self, rows: np.ndarray) -> np.ndarray:
        from ..image.patchcore import bank_index

        if getattr(self, "_index_", None) is None:
            self._index_ = bank_index(self.memory_bank_, self.search)
        dist2, _ = self._index_.search(np.ascontiguousarray(rows, dtype=np.float32), 1)
        return np.sqrt(np.maximum(dist2[:, 0], 0.0))

    # -- score --------------------------------------------------------------------------------
    def _patch_scores(self, app: np.ndarray, mot: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Frame scores (n,) and patch-score grids (n, h, w) before temporal smoothing."""
        n, h, w, d = app.shape
        a = self._nearest(app.reshape(-1, d)).reshape(n, h, w) / self.appearance_scale_
        m = mot / self.motion_scale_
        wa, wm = float(self.appearance_weight), float(self.motion_weight)
        frame = wa * a.reshape(n, -1).max(1) + wm * m.reshape(n, -1).max(1)
        return frame, (wa * a + wm * m).astype(np.float32)

    def _to_maps(self, grids: np.ndarray, size: tuple[int, int]) -> np.ndarray:
        import torch
        import torch.nn.functional as F

        t = torch.from_numpy(grids)[:, None]
        return F.interpolate(t, size=size, mode="bilinear", align_corners=False)[:, 0].numpy()

    def _score_clip(self, data: VideoSource, i: int) -> tuple[np.ndarray, np.ndarray]:
        from scipy.ndimage import gaussian_filter1d

        scores, maps = [], []
        with self._session():
            for app, mot in self._chunks(data, i):
                s, grids = self._patch_scores(app, mot)
                scores.append(s)
                maps.append(self._to_maps(grids, data.size))
        s = np.concatenate(scores)
        if float(self.temporal_sigma) > 0 and len(s) > 1:
            s = gaussian_filter1d(s, float(self.temporal_sigma), mode="nearest")
        return s, np.concatenate(maps)

    def _score_window(self, window: np.ndarray) -> tuple[float, np.ndarray]:
        import torch

        before = torch.get_num_threads()  # threadpoolctl per frame would cost ~10 ms
        torch.set_num_threads(int(self.num_threads or before))
        try:
            app = self._appearance(window[-1:])
            previous = window[-2] if len(window) > 1 else None
            mot = self._motion(window[-1:], previous, app.shape[1:3])
            s, grids = self._patch_scores(app, mot)
        finally:
            torch.set_num_threads(before)
        return float(s[0]), self._to_maps(grids, window.shape[1:3])[0]

    # -- state --------------------------------------------------------------------------------
    def _get_state(self):
        meta = {
            "appearance_scale": self.appearance_scale_,
            "motion_scale": self.motion_scale_,
            "n_train_patches": self.n_train_patches_,
        }
        return {"memory_bank": self.memory_bank_}, meta

    def _state_spec(self) -> StateSpec:
        """A (n, D) float32 bank, D the channels of ``layer``, n in [1, max_bank]; the
        search index is rebuilt from it on load."""
        positive = [Interval(Real, 0.0, None, closed="neither")]
        return StateSpec(
            arrays={"memory_bank": ArraySpec(("n", self._dim()), dtype="float32")},
            meta={
                "appearance_scale": positive,
                "motion_scale": positive,
                "n_train_patches": [Interval(Integral, 1, None)],
            },
            dim_bounds={"n": (1, int(self.max_bank))},
        )

    def _set_state(self, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
        self.memory_bank_ = np.ascontiguousarray(arrays["memory_bank"], dtype=np.float32)
        self.appearance_scale_ = float(meta["appearance_scale"])
        self.motion_scale_ = float(meta["motion_scale"])
        self.n_train_patches_ = int(meta["n_train_patches"])
        self._index_ = None


def _positive(value: float) -> float:
    """A normalising scale: degenerate (constant) training data gives 1, not 0."""
    return value if math.isfinite(value) and value > 1e-6 else 1.0
