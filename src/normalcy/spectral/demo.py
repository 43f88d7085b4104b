"""The demo's spectral cubes: a synthetic mixed-endmember cube whose strongest absorption
feature is shifted by a few bands in some pixels (``spectral.synthetic``), scored per pixel."""

from __future__ import annotations

from typing import Any

from ..demo import SEED, ModalityDemo, Run


class SpectralDemo(ModalityDemo):
    modality = "spectral"
    title = "spectral pixels"

    def __init__(self, quick: bool):
        from .synthetic import make_cube, planted

        side, bands = (16, 24) if quick else (32, 40)
        self.fit_data = make_cube(side, side, bands, seed=SEED)
        self.holdout = make_cube(side, side, bands, seed=SEED + 1)
        test = planted(side, side, bands, shift=3.0, n_anomalies=side // 2, seed=SEED + 2)
        self.test, self.labels = test.cube, test.mask.ravel().astype(int)

    def describe(self) -> str:
        h, w, b = self.test.shape
        return (
            f"A normal {h}x{w} cube of {b} bands (smooth mixtures of three endmember spectra) "
            f"for fitting, another for calibration; a test cube in which {int(self.labels.sum())}"
            " pixels have their strongest absorption feature shifted by 3 bands, as a chemical "
            "shift would. One score per pixel."
        )

    def pictures(self, report: Any, runs: list[Run]) -> None:
        super().pictures(report, runs)
        self.histograms(report, runs)
