"""RoLA's numba kernels: one online step of every per-variable detector (RePAD2's AR
predictor, AARE and its sliding threshold) plus the majority vote over correlated variables.
The detector class and the algorithm's description live in ``series.rola``; the state
arrays these kernels update are declared there (``RoLA._state_spec``) and checked on load.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from .normalise import CLIP

MIN_HISTORY = 8  # AARE values a LAD needs before it reports a standardised score
STD_FLOOR = 1e-6  # smallest AARE standard deviation used (normalised units)
RIDGE = 1e-6  # ridge factor (per fitted row) of the autoregressive least squares

# counters: values seen, errors pushed, AARE values pushed
_N, _NERR, _NAARE = 0, 1, 2
# what a step writes (see _step)
SCORE, LEARN, OBSERVE = 0, 1, 2


# -- numba kernels ----------------------------------------------------------------------------
@njit(cache=True)
def _solve_spd(A: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Solve ``A x = y`` for a small symmetric positive definite ``A`` (Cholesky)."""
    d = A.shape[0]
    L = np.zeros((d, d))
    for i in range(d):
        for j in range(i + 1):
            s = A[i, j]
            for q in range(j):
                s -= L[i, q] * L[j, q]
            if i == j:
                L[i, i] = np.sqrt(max(s, 1e-300))
            else:
                L[i, j] = s / L[j, j]
    z = np.empty(d)
    for i in range(d):
        s = y[i]
        for q in range(i):
            s -= L[i, q] * z[q]
        z[i] = s / L[i, i]
    x = np.empty(d)
    for i in range(d - 1, -1, -1):
        s = z[i]
        for q in range(i + 1, d):
            s -= L[q, i] * x[q]
        x[i] = s / L[i, i]
    return x


@njit(cache=True)
def _fit_ar(ring: np.ndarray, n: int, b: int, n_fit: int, out: np.ndarray) -> None:
    """Ridge least-squares AR(b) + intercept on the latest ``n_fit`` targets before absolute
    index ``n`` of a ring buffer (value ``a`` sits at ``ring[a % len(ring)]``)."""
    size = ring.shape[0]
    rows = min(n_fit, n - b)
    d = b + 1
    A = np.zeros((d, d))
    y = np.zeros(d)
    row = np.empty(d)
    for t in range(n - rows, n):
        for j in range(b):
            row[j] = ring[(t - b + j) % size]
        row[b] = 1.0
        target = ring[t % size]
        for r in range(d):
            y[r] += row[r] * target
            for c in range(r + 1):
                A[r, c] += row[r] * row[c]
    for r in range(d):
        for c in range(r + 1, d):
            A[r, c] = A[c, r]
        A[r, r] += RIDGE * rows
    out[:] = _solve_spd(A, y)


@njit(cache=True)
def _predict(ring: np.ndarray, n: int, b: int, coef: np.ndarray) -> float:
    size = ring.shape[0]
    p = coef[b]
    for j in range(b):
        p += coef[j] * ring[(n - b + j) % size]
    return p


@njit(cache=True)
def _aare(errs: np.ndarray, n_err: int, e: float) -> float:
    """AARE after pushing error ``e`` into the ring ``errs`` (which holds ``n_err`` pushes)."""
    b = errs.shape[0]
    slot = n_err % b
    total = e
    for j in range(min(n_err, b)):
        if j != slot:  # the slot about to be overwritten holds the oldest error
            total += errs[j]
    return total / min(n_err + 1, b)


@njit(cache=True)
def _standardise(aare_ring: np.ndarray, sums: np.ndarray, n_aare: int, a: float) -> float:
    """``(a - mean) / std`` of the AARE window after pushing ``a`` (0 before MIN_HISTORY)."""
    w = aare_ring.shape[0]
    count = min(n_aare + 1, w)
    if count < MIN_HISTORY:
        return 0.0
    leaving = aare_ring[n_aare % w] if n_aare >= w else 0.0
    s1 = sums[0] + a - leaving
    s2 = sums[1] + a * a - leaving * leaving
    mean = s1 / count
    var = s2 / count - mean * mean
    std = np.sqrt(max(var, 0.0))
    return (a - mean) / max(std, STD_FLOOR)


@njit(cache=True)
def _step(
    x: np.ndarray,
    centre: np.ndarray,
    scale: np.ndarray,
    vals: np.ndarray,
    coef: np.ndarray,
    errs: np.ndarray,
    aare: np.ndarray,
    sums: np.ndarray,
    flag: np.ndarray,
    corr: np.ndarray,
    counters: np.ndarray,
    params: np.ndarray,
    mode: int,
    s_out: np.ndarray,
) -> float:
    """One RoLA time step on raw point ``x`` (C,): per-variable scores into ``s_out``, the
    joint score returned. ``mode``: ``SCORE`` writes nothing but ``s_out``; ``LEARN`` updates
    the whole state (retraining included); ``OBSERVE`` advances only the context (latest
    values, prediction errors, correlation sums) and keeps the models and AARE windows."""
    b = int(params[0])
    n_fit = int(params[1])
    k = params[2]
    p = int(params[3])
    rho_min = params[4]
    n_vars = x.shape[0]
    size = vals.shape[1]
    w = aare.shape[1]
    n = counters[_N]
    n_err = counters[_NERR]
    n_aare = counters[_NAARE]
    z = np.minimum(np.maximum((x - centre) / scale, -CLIP), CLIP)
    cand = np.empty(b + 1)
    can_predict = n >= b
    can_retrain = n - b >= b + 1 and mode != OBSERVE
    for i in range(n_vars):
        if not can_predict:
            s_out[i] = 0.0
            continue
        ring = vals[i]
        adopt = False
        if flag[i] > 0.5 and can_retrain:
            # the previous point was reported: start by retraining (RePAD's flag)
            _fit_ar(ring, n, b, n_fit, cand)
            e = abs(z[i] - _predict(ring, n, b, cand))
            a = _aare(errs[i], n_err, e)
            s = _standardise(aare[i], sums[i], n_aare, a)
            adopt = s <= k
        else:
            e = abs(z[i] - _predict(ring, n, b, coef[i]))
            a = _aare(errs[i], n_err, e)
            s = _standardise(aare[i], sums[i], n_aare, a)
            if s > k and can_retrain:
                _fit_ar(ring, n, b, n_fit, cand)
                e2 = abs(z[i] - _predict(ring, n, b, cand))
                a2 = _aare(errs[i], n_err, e2)
                s2 = _standardise(aare[i], sums[i], n_aare, a2)
                if s2 <= k:
                    adopt = True
                if s2 < s:
                    e, a, s = e2, a2, s2
        s_out[i] = s
        if mode != SCORE:
            errs[i, n_err % b] = e
        if mode == LEARN:
            if adopt:
                coef[i, :] = cand
            slot = n_aare % w
            leaving = aare[i, slot] if n_aare >= w else 0.0
            sums[i, 0] += a - leaving
            sums[i, 1] += a * a - leaving * leaving
            aare[i, slot] = a
            flag[i] = 1.0 if s > k else 0.0
    # joint decision: majority rule within each variable's group of correlated variables
    score = s_out[0]
    if n_vars > 1:
        count = min(n + 1, p)
        leave = n >= p
        sx = np.empty(n_vars)
        sxx = np.empty(n_vars)
        for i in range(n_vars):
            old = vals[i, (n - p) % size] if leave else 0.0
            sx[i] = corr[i, 0] + z[i] - old
            sxx[i] = corr[i, 1] + z[i] * z[i] - old * old
        group = np.empty(n_vars)
        score = -np.inf
        for i in range(n_vars):
            m = 0
            group[m] = s_out[i]
            m += 1
            if count >= 3:
                var_i = sxx[i] / count - (sx[i] / count) ** 2
                for j in range(n_vars):
                    if j == i:
                        continue
                    old_i = vals[i, (n - p) % size] if leave else 0.0
                    old_j = vals[j, (n - p) % size] if leave else 0.0
                    sxy = corr[i, 2 + j] + z[i] * z[j] - old_i * old_j
                    var_j = sxx[j] / count - (sx[j] / count) ** 2
                    cov = sxy / count - (sx[i] / count) * (sx[j] / count)
                    if var_i > 1e-12 and var_j > 1e-12:
                        rho = cov / np.sqrt(var_i * var_j)
                        if abs(rho) >= rho_min:
                            group[m] = s_out[j]
                            m += 1
            ordered = np.sort(group[:m])[::-1]
            q = min(s_out[i], ordered[m // 2])
            if q > score:
                score = q
        if mode != SCORE:
            for i in range(n_vars):
                corr[i, 0] = sx[i]
                corr[i, 1] = sxx[i]
                old_i = vals[i, (n - p) % size] if leave else 0.0
                for j in range(n_vars):
                    old_j = vals[j, (n - p) % size] if leave else 0.0
                    corr[i, 2 + j] += z[i] * z[j] - old_i * old_j
    if mode != SCORE:
        for i in range(n_vars):
            vals[i, n % size] = z[i]
        counters[_N] = n + 1
        if can_predict:
            counters[_NERR] = n_err + 1
        if can_predict and mode == LEARN:
            counters[_NAARE] = n_aare + 1
            if (n_aare + 1) % w == 0:
                _refresh_aare_sums(aare, sums)
        if n_vars > 1 and (n + 1) % p == 0:
            _refresh_corr_sums(vals, n + 1, p, corr)
    return score


@njit(cache=True)
def _refresh_aare_sums(aare: np.ndarray, sums: np.ndarray) -> None:
    """Exact sums of a full AARE window (removes drift of the running sums)."""
    for i in range(aare.shape[0]):
        s1 = 0.0
        s2 = 0.0
        for v in aare[i]:
            s1 += v
            s2 += v * v
        sums[i, 0] = s1
        sums[i, 1] = s2


@njit(cache=True)
def _refresh_corr_sums(vals: np.ndarray, n: int, p: int, corr: np.ndarray) -> None:
    """Exact correlation sums over the latest ``min(n, p)`` values."""
    size = vals.shape[1]
    n_vars = vals.shape[0]
    corr[:, :] = 0.0
    for t in range(max(0, n - p), n):
        for i in range(n_vars):
            vi = vals[i, t % size]
            corr[i, 0] += vi
            corr[i, 1] += vi * vi
            for j in range(n_vars):
                corr[i, 2 + j] += vi * vals[j, t % size]


@njit(cache=True)
def _run(
    X: np.ndarray,
    centre: np.ndarray,
    scale: np.ndarray,
    vals: np.ndarray,
    coef: np.ndarray,
    errs: np.ndarray,
    aare: np.ndarray,
    sums: np.ndarray,
    flag: np.ndarray,
    corr: np.ndarray,
    counters: np.ndarray,
    params: np.ndarray,
    mode: int,
    scores: np.ndarray,
    per_var: np.ndarray,
) -> None:
    """Score-then-learn every row of ``X`` (T, C), updating the state in place (``mode`` is
    ``LEARN``; an argument rather than the constant so that ``_step`` compiles once, for an
    int64 mode, shared with the calls from Python)."""
    for t in range(X.shape[0]):
        scores[t] = _step(
            X[t],
            centre,
            scale,
            vals,
            coef,
            errs,
            aare,
            sums,
            flag,
            corr,
            counters,
            params,
            mode,
            per_var[t],
        )
