"""Inputs of the oracle cases, generated bit-identically wherever numpy runs.

The reference implementations run in their own virtual environments (old numpy pins), the
tests run here; both build the cases from this module, which uses only a SplitMix64 stream in
integer arithmetic and IEEE basic operations (no library RNG, no transcendental functions), so
the arrays agree bit for bit. Each fixture stores a SHA-256 of its case's arrays to prove it.
Keep this file importable with numpy alone.
"""

from __future__ import annotations

import hashlib

import numpy as np

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)


def splitmix64(seed: int, n: int) -> np.ndarray:
    """n pseudo-random uint64 from SplitMix64 (wrapping uint64 arithmetic)."""
    with np.errstate(over="ignore"):
        z = np.uint64(seed) * _GOLDEN + (np.arange(1, n + 1, dtype=np.uint64) * _GOLDEN)
        z = (z ^ (z >> np.uint64(30))) * _M1
        z = (z ^ (z >> np.uint64(27))) * _M2
        return z ^ (z >> np.uint64(31))


def uniform(seed: int, shape, dtype=np.float64) -> np.ndarray:
    """Uniform [0, 1) values that are exact multiples of 2^-53 (float64) or 2^-24 (float32)."""
    n = int(np.prod(shape))
    z = splitmix64(seed, n)
    if dtype == np.float32:
        out = (z >> np.uint64(40)).astype(np.float32) * np.float32(2.0**-24)
    else:
        out = (z >> np.uint64(11)).astype(np.float64) * (2.0**-53)
    return out.reshape(shape)


def digest(*arrays: np.ndarray) -> str:
    h = hashlib.sha256()
    for a in arrays:
        a = np.ascontiguousarray(a)
        h.update(str(a.dtype).encode() + str(a.shape).encode())
        h.update(a.tobytes())
    return h.hexdigest()


# ----------------------------------------------------------------------------------------------
# series (PATE)


def _series(t_len: int, events, seed: int, bumps=(), quantum: float | None = None):
    y = np.zeros(t_len, np.int64)
    for a, b in events:
        y[a : b + 1] = 1
    s = uniform(seed, (t_len,))
    for a, b, h in bumps:
        s[a : b + 1] += h
    if quantum is not None:
        s = np.floor(s / quantum) * quantum
    return y, s


def pate_cases() -> list[dict]:
    """Varied cases; ``kwargs`` use normalcy.metrics.pate's names."""
    cases = []
    y, s = _series(600, [(300, 339)], 1, bumps=[(310, 360, 0.6)])
    cases.append({"name": "single_event_default", "y_true": y, "y_score": s, "kwargs": {}})
    y, s = _series(800, [(200, 229), (500, 519)], 2, bumps=[(170, 215, 0.5), (505, 560, 0.45)])
    cases.append(
        {
            "name": "early_and_late",
            "y_true": y,
            "y_score": s,
            "kwargs": {"early_buffer": 40, "delay_buffer": 40},
        }
    )
    y, s = _series(
        400, [(100, 109), (115, 130), (200, 200)], 3, bumps=[(95, 120, 0.5), (199, 203, 0.7)]
    )
    cases.append(
        {
            "name": "close_events_small_buffers",
            "y_true": y,
            "y_score": s,
            "kwargs": {"early_buffer": 8, "delay_buffer": 12},
        }
    )
    y, s = _series(300, [(0, 14), (285, 299)], 4, bumps=[(5, 30, 0.4), (270, 292, 0.5)])
    cases.append(
        {
            "name": "events_at_both_ends",
            "y_true": y,
            "y_score": s,
            "kwargs": {"early_buffer": 20, "delay_buffer": 20},
        }
    )
    y, s = _series(
        500, [(100, 149), (300, 319)], 5, bumps=[(120, 170, 0.5), (290, 310, 0.3)], quantum=0.1
    )
    cases.append(
        {
            "name": "tied_scores",
            "y_true": y,
            "y_score": s,
            "kwargs": {"early_buffer": 30, "delay_buffer": 30},
        }
    )
    y, s = _series(250, [(50, 69), (150, 154)], 6, bumps=[(45, 60, 0.5), (152, 170, 0.4)])
    cases.append(
        {
            "name": "all_thresholds",
            "y_true": y,
            "y_score": s,
            "kwargs": {"early_buffer": 10, "delay_buffer": 10, "n_thresholds": None},
        }
    )
    y, s = _series(500, [(120, 159), (330, 339)], 7, bumps=[(100, 150, 0.5), (335, 380, 0.5)])
    cases.append(
        {
            "name": "three_splits_no_zero",
            "y_true": y,
            "y_score": s,
            "kwargs": {
                "early_buffer": 40,
                "delay_buffer": 25,
                "n_buffer_splits": 3,
                "include_zero": False,
            },
        }
    )
    cases.append(
        {
            "name": "two_splits_with_zero",
            "y_true": y,
            "y_score": s,
            "kwargs": {"early_buffer": 40, "delay_buffer": 25, "n_buffer_splits": 2},
        }
    )
    y, _ = _series(500, [(100, 139), (300, 309)], 8)
    pred = np.zeros(500)
    pred[90:120] = 1  # early start, partial cover
    pred[312:318] = 1  # late, misses the event
    pred[450:452] = 1  # far false alarm
    cases.append(
        {
            "name": "binary_pate_f1",
            "y_true": y,
            "y_score": pred,
            "kwargs": {"early_buffer": 20, "delay_buffer": 20, "binary": True},
        }
    )
    cases.append(
        {
            "name": "binary_pate_f1_splits",
            "y_true": y,
            "y_score": pred,
            "kwargs": {
                "early_buffer": 20,
                "delay_buffer": 20,
                "binary": True,
                "n_buffer_splits": 2,
            },
        }
    )
    starts = [60, 190, 260, 420, 600, 760, 900, 1100, 1300, 1500, 1700, 1900]
    lengths = [1, 5, 12, 30, 60, 3, 20, 8, 45, 2, 15, 40]
    events = [(a, min(a + n - 1, 1999)) for a, n in zip(starts, lengths, strict=True)]
    bumps = [
        (a - 6 + 3 * k % 9, a + n // 2 + k, 0.3 + 0.05 * (k % 5))
        for k, (a, n) in enumerate(zip(starts, lengths, strict=True))
    ]
    y, s = _series(2000, events, 9, bumps=bumps)
    cases.append(
        {
            "name": "many_events",
            "y_true": y,
            "y_score": s,
            "kwargs": {"early_buffer": 50, "delay_buffer": 50},
        }
    )
    y, s = _series(700, [(150, 189), (400, 419)], 10)
    cases.append({"name": "noise_only_scores", "y_true": y, "y_score": s, "kwargs": {}})
    y, s = _series(120, [(0, 119)], 11, bumps=[(30, 60, 0.5)])
    cases.append(
        {
            "name": "all_anomalous",
            "y_true": y,
            "y_score": s,
            "kwargs": {"early_buffer": 10, "delay_buffer": 10},
        }
    )
    return cases


# ----------------------------------------------------------------------------------------------
# range-based precision / recall (prts)


def range_cases() -> list[dict]:
    """Binary label / decision pairs with events at the edges, overlaps and splits."""
    cases = []
    for seed, t_len in ((31, 120), (32, 300), (33, 500)):
        u = uniform(seed, (4, t_len))
        y = np.zeros(t_len, np.int64)
        pred = np.zeros(t_len, np.int64)
        i = k = 0
        while i < t_len:  # events of 1-25 points, gaps of 1-20
            n = 1 + int(u[0, k] * 25)
            y[i : i + n] = 1
            i += n + 1 + int(u[1, k] * 20)
            k += 1
        j = k = 0
        while j < t_len:  # flagged runs of 1-12 points, gaps of 1-15
            n = 1 + int(u[2, k] * 12)
            pred[j + int(u[3, k] * 5) : j + n] = 1
            j += n + 1 + int(u[3, k] * 15)
            k += 1
        cases.append({"name": f"random_{t_len}", "y_true": y, "y_pred": pred})
    y = np.zeros(60, np.int64)
    y[:8] = 1
    y[20:30] = 1
    y[55:] = 1
    pred = np.zeros(60, np.int64)
    pred[5:12] = 1
    pred[21:23] = 1
    pred[25:27] = 1
    pred[28:35] = 1
    pred[50:] = 1
    cases.append({"name": "edges_and_splits", "y_true": y, "y_pred": pred})
    return cases


RANGE_SETTINGS = [
    {"alpha": a, "cardinality": c, "bias": b}
    for a in (0.0, 0.5)
    for c in ("one", "reciprocal")
    for b in ("flat", "front", "back", "middle")
]


# ----------------------------------------------------------------------------------------------
# pixels (AUPRO, AUPIMO)


def _pixels(n_normal: int, defects: list[list[tuple]], size: int, seed: int, dtype, quantum=None):
    """Heavy-tailed maps (1 / (u + 0.02)) with defects raised by ``gain``.

    ``defects[i]`` lists rectangles (y, x, h, w, gain) of anomalous image i; images without
    defects come first.
    """
    n = n_normal + len(defects)
    masks = np.zeros((n, size, size), bool)
    u = uniform(seed, (n, size, size), np.float32)
    maps = (np.float32(1.0) / (u + np.float32(0.02))).astype(np.float32)
    for i, rects in enumerate(defects):
        for y, x, h, w, gain in rects:
            masks[n_normal + i, y : y + h, x : x + w] = True
            maps[n_normal + i, y : y + h, x : x + w] *= np.float32(gain)
    if quantum is not None:
        maps = (np.floor(maps / np.float32(quantum)) * np.float32(quantum)).astype(np.float32)
    return masks, maps.astype(dtype)


def pixel_cases() -> list[dict]:
    cases = []
    defects = [
        [(10, 10, 8, 8, 3.0)],
        [(40, 40, 1, 1, 5.0)],  # single-pixel defect
        [(5, 5, 6, 6, 2.0), (11, 11, 4, 4, 2.0)],  # touch diagonally: one 8-connected region
        [(60, 20, 20, 3, 1.5), (20, 60, 3, 20, 4.0)],
        [(80, 80, 12, 12, 1.0)],  # undetectable (no gain)
        [(30, 70, 5, 9, 8.0)],
        [(50, 50, 10, 10, 49.0)],  # found around the FPR bounds
        [(70, 10, 7, 7, 60.0), (10, 70, 2, 2, 30.0)],
    ]
    masks, maps = _pixels(12, defects, 96, 21, np.float32)
    cases.append({"name": "default_bounds", "masks": masks, "maps": maps, "aupimo": {}})
    defects = [
        [(4, 4, 6, 6, 2.5)],
        [(20, 20, 1, 1, 3.0), (30, 5, 2, 2, 1.2)],
        [(10, 30, 10, 10, 1.3)],
        [(0, 0, 5, 48, 2.0)],
        [(30, 30, 8, 8, 25.0)],
        [(36, 2, 5, 5, 60.0)],
    ]
    masks, maps = _pixels(10, defects, 48, 22, np.float32)
    cases.append(
        {
            "name": "wide_bounds",
            "masks": masks,
            "maps": maps,
            "aupimo": {"fpr_bounds": (1e-3, 1e-2), "n_thresholds": 20_000},
        }
    )
    masks, maps = _pixels(10, defects, 48, 23, np.float64)
    cases.append(
        {
            "name": "float64_maps",
            "masks": masks,
            "maps": maps,
            "aupimo": {"fpr_bounds": (1e-3, 1e-2), "n_thresholds": 20_000},
        }
    )
    masks, maps = _pixels(10, defects, 48, 24, np.float32, quantum=0.5)
    cases.append(
        {
            "name": "tied_scores",
            "masks": masks,
            "maps": maps,
            "aupimo": {"fpr_bounds": (1e-2, 1e-1), "n_thresholds": 5_000},
        }
    )
    return cases


AUPRO_LIMITS = (0.3, 0.05, 1.0)

VUS_WINDOWS = (0, 7, 20, 60)
