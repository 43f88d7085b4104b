"""Classic EEG segment features: line length and relative spectral band powers.

Line length (Esteller et al., 2001) is the mean absolute difference of consecutive samples;
band powers come from Welch's periodogram in the clinical bands delta (0.5-4 Hz), theta
(4-8), alpha (8-13), beta (13-30) and gamma (30-70 Hz; clipped at Nyquist).
"""

from __future__ import annotations

import numpy as np

BANDS = ((0.5, 4.0), (4.0, 8.0), (8.0, 13.0), (13.0, 30.0), (30.0, 70.0))
TINY = 1e-300


def line_length(X: np.ndarray) -> np.ndarray:
    """(N, C) mean absolute first difference of (N, T, C) segments."""
    return np.abs(np.diff(X, axis=1)).mean(axis=1)


def band_powers(X: np.ndarray, rate: float) -> np.ndarray:
    """(N, C, len(BANDS) + 1): log relative power per band, and the log total power."""
    from scipy.signal import welch

    t = X.shape[1]
    freqs, psd = welch(X, fs=rate, axis=1, nperseg=min(256, t))
    psd = np.moveaxis(psd, 1, -1)  # (N, C, F)
    total = psd.sum(axis=-1) + TINY
    out = []
    for lo, hi in BANDS:
        sel = (freqs >= lo) & (freqs < min(hi, rate / 2))
        power = psd[..., sel].sum(axis=-1) if sel.any() else np.zeros(total.shape)
        out.append(np.log(power / total + 1e-12))
    out.append(np.log(total))
    return np.stack(out, axis=-1)
