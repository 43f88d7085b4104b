"""ONNX graphs of the feature-based image detectors PaDiM and PatchCore (torch.onnx).

The graph takes ``images`` (n, S, S, 3) float32 in [0, 1], channels last, already resized
to the detector's ``image_size`` S (``OnnxDetector`` resizes with the detector's own
bilinear resize), and computes, with the fitted detector's own modules:

* the backbone's normalisation and the frozen backbone;
* the detector's patch embedding (``PaDiM._embed`` / ``PatchCore._embed``);
* PaDiM: the Mahalanobis distance of every patch to its position's Gaussian;
  PatchCore: the exact nearest bank entry of every patch (``|q|^2 - 2 q.b + |b|^2``, MatMul
  + ArgMin; no faiss) and the image score re-weighted as in Eq. 7 of the paper, with each
  bank entry's ``num_neighbors`` nearest bank entries precomputed at export time by the
  detector's own index (so they match normalcy's even with the HNSW search);
* the map: bilinear upsampling of the patch grid to S and the Gaussian blur (``sigma``),
  as ``image.preprocess.map_operator`` applies them. Outputs ``score`` (n,) and ``map``
  (n, S, S); ``OnnxDetector`` resizes the map to each image's size (PaDiM's image score is
  that map's maximum).

Only the preprocessing ``resize="stretch"`` without ``center_crop`` or ``tile`` is exported
(``InputError`` otherwise). PatchCore fitted with ``search="hnsw"`` is exported with the
exact search, so its exported scores equal those of ``search="exact"`` (the approximate
search misses the true nearest entry for a few per cent of patches).
Exported with the TorchScript-based exporter (``dynamo=False``): it writes one
self-contained file in seconds, where the dynamo exporter of torch 2.13 splits the weights
into an external-data file.
"""

from __future__ import annotations

import copy
import io
import warnings
from typing import Any

import numpy as np
import onnx
import torch
from torch import nn
from torch.nn import functional as F

from ..core.errors import InputError
from ..image.feature_detector import concat_layers
from ..image.interpolation import interp_matrix
from ..image.preprocess import _blur_matrix


def _map_matrix(n_grid: int, side: int, sigma: float) -> torch.Tensor:
    """(side, n_grid): bilinear upsampling of a grid axis to ``side``, then the blur."""
    op = _blur_matrix(side, float(sigma)) @ interp_matrix(n_grid, side)
    return torch.from_numpy(op.astype(np.float32))


def _cpu_copy(module: nn.Module) -> nn.Module:
    """The backbone on the CPU for tracing, leaving the detector's own (maybe on CUDA) alone."""
    return copy.deepcopy(module).to("cpu").eval()


class _Normalise(nn.Module):
    def __init__(self, mean: tuple[float, ...], std: tuple[float, ...]) -> None:
        super().__init__()
        self.register_buffer("scale", torch.tensor([1.0 / s for s in std]))
        self.register_buffer(
            "shift", torch.tensor([-m / s for m, s in zip(mean, std, strict=True)])
        )

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return (images * self.scale + self.shift).permute(0, 3, 1, 2)


class _PaDiMGraph(nn.Module):
    def __init__(self, det: Any) -> None:
        super().__init__()
        prep = det._preprocess()
        self.det = det
        self.norm = _Normalise(prep.mean, prep.std)
        self.backbone = _cpu_copy(det._extractor())
        self.register_buffer("mean", torch.from_numpy(det.mean_))
        self.register_buffer("inv", torch.from_numpy(det.inv_cov_))
        gh, gw = det.grid_
        self.grid = (int(gh), int(gw))
        # the channels PaDiM picked, per layer (as ``PaDiM._embed`` picks them)
        self.picks: list[list[int]] = []
        start = 0
        for width in self.backbone.channels:
            mine = det.channels_[(det.channels_ >= start) & (det.channels_ < start + width)]
            self.picks.append([int(c - start) for c in mine])
            start += width
        self.register_buffer("a_h", _map_matrix(gh, prep.input_size, det.sigma))
        self.register_buffer("a_w", _map_matrix(gw, prep.input_size, det.sigma))

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        feats = self.backbone(self.norm(images))
        picked = [f[:, pick] for f, pick in zip(feats, self.picks, strict=True) if pick]
        emb = concat_layers(picked) if len(picked) == len(feats) else None
        if emb is None:  # a layer without picked channels: keep the finest grid
            h, w = feats[0].shape[-2:]
            emb = torch.cat(
                [
                    F.interpolate(f, size=(h, w), mode="bilinear", align_corners=False)
                    for f in picked
                ],
                dim=1,
            )
        n, d = emb.shape[0], emb.shape[1]
        x = emb.permute(0, 2, 3, 1).reshape(n, -1, d)  # (n, P, d)
        diff = (x - self.mean).transpose(0, 1)  # (P, n, d)
        m2 = (torch.bmm(diff, self.inv) * diff).sum(-1).transpose(0, 1)  # (n, P)
        dist = m2.clamp_min(0).sqrt().reshape(-1, *self.grid)
        maps = self.a_h @ dist @ self.a_w.T
        return maps.flatten(1).amax(1), maps


class _PatchCoreGraph(nn.Module):
    def __init__(self, det: Any) -> None:
        super().__init__()
        prep = det._preprocess()
        self.det = det
        self.norm = _Normalise(prep.mean, prep.std)
        self.backbone = _cpu_copy(det._extractor())
        bank = np.ascontiguousarray(det.memory_bank_, dtype=np.float32)
        self.register_buffer("bank", torch.from_numpy(bank))  # the one copy in the file
        self.b = min(int(det.num_neighbors), len(bank))
        if self.b >= 2:
            _, neigh = det._index().search(bank, self.b)  # N_b(m) of every bank entry m
            self.register_buffer("neigh", torch.from_numpy(neigh.astype(np.int64)))
        side = prep.input_size
        grid_side = det._grid_side()
        self.grid = (grid_side, grid_side)
        self.register_buffer("a", _map_matrix(grid_side, side, det.sigma))

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        emb = self.det._embed(list(self.backbone(self.norm(images))))  # (n, D, h, w)
        n, d = emb.shape[0], emb.shape[1]
        q = emb.permute(0, 2, 3, 1).reshape(n, -1, d)  # (n, P, D)
        bank_sq = (self.bank * self.bank).sum(-1)  # folded into a constant by onnxruntime
        d2 = (q * q).sum(-1, keepdim=True) - 2.0 * (q @ self.bank.T) + bank_sq
        best, nn_idx = d2.min(-1)  # (n, P)
        dist = best.clamp_min(0).sqrt()
        worst = dist.argmax(1, keepdim=True)  # (n, 1)
        s_star = dist.gather(1, worst)[:, 0].double()
        if self.b >= 2:
            m_test = q.gather(1, worst[:, :, None].expand(-1, 1, d))[:, 0].double()  # (n, D)
            m_star = nn_idx.gather(1, worst)[:, 0]  # (n,)
            neigh = self.neigh[m_star]  # (n, b)
            diff = m_test[:, None, :] - self.bank[neigh].double()
            d_neigh = (diff * diff).sum(-1).sqrt()
            weight = 1.0 - 1.0 / torch.exp(d_neigh - s_star[:, None]).sum(1)
            s_star = weight * s_star
        maps = self.a @ dist.reshape(n, *self.grid) @ self.a.T
        return s_star.float(), maps


def _check_exportable(det: Any) -> None:
    if det.resize != "stretch" or det.center_crop is not None or det.tile is not None:
        raise InputError(
            f"{det.name} export supports resize='stretch' without center_crop or tile; this "
            f"model has resize={det.resize!r}, center_crop={det.center_crop}, tile={det.tile}"
        )


def image_model(det: Any) -> tuple[onnx.ModelProto, dict[str, Any], str]:
    """(ONNX model, input description, notes) of a fitted PaDiM or PatchCore."""
    _check_exportable(det)
    prep = det._preprocess()
    side = prep.input_size
    module = _PaDiMGraph(det) if det.name == "padim" else _PatchCoreGraph(det)
    module.eval()
    example = torch.rand(2, side, side, 3)
    buffer = io.BytesIO()
    with torch.inference_mode(False), torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            module,
            (example,),
            buffer,
            dynamo=False,
            opset_version=17,
            # folding would store the bank up to three times (bank, its transpose, its
            # squared norms); onnxruntime folds them in memory when it loads the file
            do_constant_folding=False,
            input_names=["images"],
            output_names=["score", "map"],
            dynamic_axes={"images": {0: "n"}, "score": {0: "n"}, "map": {0: "n"}},
        )
    model = onnx.load_model_from_string(buffer.getvalue())
    spec = {
        "image_size": int(side),
        "resize": "stretch",
        "mean": [float(m) for m in prep.mean],
        "std": [float(s) for s in prep.std],
        "map_size": int(side),
        "score_is_map_max": det.name == "padim",
    }
    notes = ""
    if det.name == "patchcore":
        notes = (
            f"nearest-neighbour search exported exact over {len(det.memory_bank_)} bank rows "
            f"(the model used search={det.search!r})"
        )
    return model, spec, notes
