"""Validation of spectral cubes handed to a detector.

Accepted: one ``H x W x B`` array, an ``N x H x W x B`` array (N cubes of one size), or a
list/tuple of ``H x W x B`` arrays (sizes may differ, the band count ``B`` may not).
Values must be real numbers (bool, int or float); they are converted to float64.

Policies (each a ``nc.InputError`` saying what was wrong):

* band-count mismatch between cubes, or with the cubes a detector was fitted on;
* NaN or infinite values: refused, naming the cube, pixel and band (mask or repair bad
  pixels first; a silent fill would hide a sensor fault, which may be the anomaly);
* magnitudes beyond ``MAX_ABS`` (squares would overflow float64);
* fewer than ``MIN_BANDS`` bands, more than ``MAX_BANDS`` bands, or no pixels.

Constant bands are accepted: detectors drop bands that are constant in the fit data (they
carry no information) and rank a pixel that deviates in such a band above all others
(``tabular.preprocessing.ColumnScaler``'s drift rule).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..core.errors import InputError

MIN_BANDS = 2
MAX_BANDS = 100_000
MAX_ABS = 1e150  # (1e150)**2 * bands stays finite in float64
MAX_PIXELS = 50_000_000


def _one(cube: Any, label: str) -> np.ndarray:
    if isinstance(cube, (str, bytes)) or cube is None or np.isscalar(cube):
        raise InputError(
            f"{label}: expected an H x W x B array of numbers, got {type(cube).__name__}"
        )
    try:
        arr = np.asarray(cube)
    except (ValueError, TypeError) as exc:
        raise InputError(f"{label}: not a rectangular array ({exc})") from None
    if arr.dtype == object:
        try:
            arr = arr.astype(np.float64)
        except (ValueError, TypeError):
            raise InputError(f"{label}: holds values that are not numbers") from None
    if arr.dtype.kind not in "biuf":
        raise InputError(
            f"{label}: dtype {arr.dtype} is not a real number type (expected float or int)"
        )
    if arr.ndim != 3:
        raise InputError(f"{label}: expected an H x W x B cube (3 axes), got shape {arr.shape}")
    h, w, b = arr.shape
    if h == 0 or w == 0:
        raise InputError(f"{label}: the cube has no pixels (shape {arr.shape})")
    if not MIN_BANDS <= b <= MAX_BANDS:
        raise InputError(f"{label}: {b} bands; expected between {MIN_BANDS} and {MAX_BANDS}")
    out = arr.astype(np.float64, copy=False)
    finite = np.isfinite(out)
    if not finite.all():
        r, c, k = (int(v[0]) for v in np.nonzero(~finite))
        raise InputError(
            f"{label}: {int((~finite).sum())} NaN/inf value(s), first at pixel ({r}, {c}) band {k}; "
            "mask or repair bad pixels before fitting or scoring"
        )
    if np.abs(out).max() > MAX_ABS:
        raise InputError(f"{label}: values beyond +-{MAX_ABS:g}; rescale the cube")
    return out


def as_cubes(X: Any, name: str = "X", n_bands: int | None = None) -> list[np.ndarray]:
    """``X`` as a list of float64 ``H x W x B`` cubes (see the module docstring)."""
    if isinstance(X, (list, tuple)):
        if len(X) == 0:
            raise InputError(f"{name}: an empty list; expected one or more H x W x B cubes")
        cubes = [_one(c, f"{name}[{i}]") for i, c in enumerate(X)]
    else:
        arr = X
        if isinstance(X, np.ndarray) and X.ndim == 4:
            if X.shape[0] == 0:
                raise InputError(f"{name}: no cubes (shape {X.shape})")
            cubes = [_one(c, f"{name}[{i}]") for i, c in enumerate(X)]
        else:
            cubes = [_one(arr, name)]
    bands = {c.shape[2] for c in cubes}
    if len(bands) != 1:
        raise InputError(f"{name}: the cubes have different band counts {sorted(bands)}")
    if n_bands is not None and cubes[0].shape[2] != n_bands:
        raise InputError(
            f"{name}: {cubes[0].shape[2]} bands, but the detector was fitted on {n_bands}"
        )
    if sum(c.shape[0] * c.shape[1] for c in cubes) > MAX_PIXELS:
        raise InputError(f"{name}: more than {MAX_PIXELS} pixels in total; score in parts")
    return cubes


def pixels(cubes: list[np.ndarray]) -> np.ndarray:
    """All pixels of ``cubes`` as one (N, B) matrix, cube by cube, row-major."""
    return np.concatenate([c.reshape(-1, c.shape[2]) for c in cubes], axis=0)
