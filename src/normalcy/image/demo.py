"""The demo's images: built-in synthetic data, its description, metrics and pictures."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..demo import SEED, ModalityDemo, Run


class ImageDemo(ModalityDemo):
    modality = "image"
    title = "images"

    def __init__(self, quick: bool):
        from ..datasets.synthetic import make_images

        n_fit, n_hold, n_test, size = (16, 10, 12, 64) if quick else (32, 12, 24, 128)
        data = make_images(n_train=n_fit + n_hold, n_test=n_test, size=size, seed=SEED)
        self.fit_data, self.holdout = data.train[:n_fit], data.train[n_fit:]
        self.test, self.labels, self.masks, self.kinds = (
            data.test,
            data.labels,
            data.masks,
            data.kinds,
        )

    def describe(self) -> str:
        n, h, w, _ = self.test.shape
        return (
            f"{len(self.fit_data)} defect-free {h}x{w} images of one textured surface for "
            f"fitting, {len(self.holdout)} more for calibration; {n} test images of which "
            f"{int(self.labels.sum())} carry a defect (scratch, spot, missing texture or stain) "
            "with an exact pixel mask."
        )

    def metrics(self, scores: Any) -> dict[str, float]:
        from ..metrics import aupro, pixel_auroc

        out = super().metrics(scores)
        if scores.maps is not None and scores.maps.shape[1:] == self.masks.shape[1:]:
            out["pixel_auroc"] = pixel_auroc(self.masks, scores.maps)
            out["aupro"] = aupro(self.masks, scores.maps)
        return out

    def _examples(self) -> list[int]:
        """One test image per defect kind, then normal ones, at most six."""
        picked: list[int] = []
        for kind in dict.fromkeys(k for k in self.kinds if k):
            picked.append(self.kinds.index(kind))
        picked += [i for i, k in enumerate(self.kinds) if not k][:2]
        return picked[:6]

    def pictures(self, report: Any, runs: list[Run]) -> None:
        from ..viz import heatmap_overlay

        super().pictures(report, runs)
        self.histograms(report, runs)
        examples = self._examples()
        report.text("Test images (defect outlines in green):")
        report.gallery(
            [
                (
                    heatmap_overlay(
                        self.test[i], np.zeros(self.masks[i].shape), self.masks[i], alpha=0.0
                    ),
                    self.kinds[i] or "normal",
                )
                for i in examples
            ],
            width=160,
        )
        for r in runs:
            maps = r.scores.maps
            if maps is None or maps.shape[1:] != self.masks.shape[1:]:
                continue
            vmin, vmax = float(maps.min()), float(np.quantile(maps, 0.999))
            items = []
            for i in examples:
                pic = heatmap_overlay(self.test[i], maps[i], self.masks[i], vmin=vmin, vmax=vmax)
                flag = " ⚑" if r.scores.labels is not None and r.scores.labels[i] else ""
                items.append((pic, f"{self.kinds[i] or 'normal'}: {r.scores.scores[i]:.3g}{flag}"))
            report.text(f"{r.info.name}: anomaly maps (common colour scale; ⚑ = flagged)")
            report.gallery(items, width=160)
