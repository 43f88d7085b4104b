"""Spectral benchmark: every spectral detector on the ABU hyperspectral scenes.

``normalcy bench spectral --root ../shared/datasets/spectral/abu [--dataset SCENE]
[--detectors rx,cvae3d] [--quick]``; from Python ``run(root=..., ...)``.

Protocol (the hyperspectral one: no clean training cube exists)
    Each detector is fitted on a scene's cube and scores the same cube; pixel ROC-AUC and
    AP against the scene's mask; the published global-RX ROC-AUC (``scenes.json``) is
    listed beside. Default parameters, nothing tuned per scene.

Injected peak shifts (the 3D-CVAE paper's synthetic test)
    The deepest absorption feature of the scene's mean spectrum (``strongest_feature``,
    +-10 bands) is shifted by 1, 2 and 4 bands in three disjoint random groups of
    ``SHIFT_PIXELS`` background pixels (seeded); the detector is fitted on and scores the
    modified cube, and each group's pixels are ranked against the untouched background
    (the scene's own anomalies are left out of that evaluation).

``limit`` runs the first ``limit`` scenes; ``quick`` uses each detector's ``quick_params``.
Outputs in ``out_dir``: ``spectral.csv`` (scene x detector), ``spectral_shift.csv``, a
markdown table and ``spectral.html`` (score maps, and the spectra of the top pixels).
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd

from ..core.errors import InputError
from ..core.registry import create, get_class
from ..core.registry import detectors as registered
from ..datasets.abu import Scene, load_scene, scene_names
from ..metrics.ranking import auroc, average_precision
from .tables import markdown_table

SHIFTS = (1.0, 2.0, 4.0)
SHIFT_PIXELS = 30
DEFAULT_ROOT = Path("../shared/datasets/spectral/abu")


def detector_names(detectors: list[str] | None = None) -> list[str]:
    names = [i.name for i in registered("spectral")]
    if detectors:
        unknown = sorted(set(detectors) - set(names))
        if unknown:
            raise InputError(f"not spectral detectors: {unknown}; available: {names}")
        names = [n for n in names if n in detectors]
    return names


def _make(name: str, quick: bool):
    return create(name, **(dict(get_class(name).quick_params) if quick else {}))


def shifted_scene(scene: Scene, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """The cube with three groups of shifted background pixels, and a label map (0 = left
    out, -1 = background, k = shift group k)."""
    from ..spectral.synthetic import inject_shift, strongest_feature

    rng = np.random.default_rng(seed)
    window = strongest_feature(scene.cube)
    background = np.flatnonzero(~scene.mask.ravel())
    chosen = rng.choice(background, SHIFT_PIXELS * len(SHIFTS), replace=False)
    labels = np.where(scene.mask.ravel(), 0, -1)
    cube = scene.cube.astype(np.float64)
    for k, shift in enumerate(SHIFTS):
        group = chosen[k * SHIFT_PIXELS : (k + 1) * SHIFT_PIXELS]
        labels[group] = k + 1
        mask = np.zeros(scene.mask.size, dtype=bool)
        mask[group] = True
        cube = inject_shift(cube, mask.reshape(scene.mask.shape), shift, window).cube
    return cube, labels


def _evaluate(name: str, scene: Scene, quick: bool) -> tuple[dict, np.ndarray, list[dict]]:
    det = _make(name, quick)
    t0 = time.perf_counter()
    det.fit(scene.cube)
    t1 = time.perf_counter()
    res = det.score(scene.cube)
    t2 = time.perf_counter()
    y = scene.mask.ravel()
    row = {
        "scene": scene.name,
        "detector": name,
        "roc_auc": auroc(y, res.scores),
        "ap": average_precision(y, res.scores),
        "published_rx_roc_auc": scene.rx_auroc,
        "pixels": int(y.size),
        "bands": int(scene.cube.shape[2]),
        "fit_s": t1 - t0,
        "score_s": t2 - t1,
    }
    cube, labels = shifted_scene(scene)
    scores = _make(name, quick).fit(cube).score(cube).scores
    shift_rows = []
    for k, shift in enumerate(SHIFTS):
        keep = (labels == -1) | (labels == k + 1)
        shift_rows.append(
            {
                "scene": scene.name,
                "detector": name,
                "shift_bands": shift,
                "roc_auc": auroc(labels[keep] == k + 1, scores[keep]),
            }
        )
    return row, res.scores, shift_rows


def run(
    dataset: str | None = None,
    root: str | Path | None = None,
    out_dir: str | Path = "benchmarks/results",
    detectors: list[str] | None = None,
    limit: int | None = None,
    quick: bool = False,
) -> Path:
    root = Path(root) if root is not None else DEFAULT_ROOT
    names = scene_names(root)
    if dataset is not None:
        if dataset not in names:
            raise InputError(f"unknown ABU scene {dataset!r}; available: {names}")
        names = [dataset]
    if limit is not None:
        names = names[: max(1, int(limit))]
    dets = detector_names(detectors)
    rows, shift_rows, maps = [], [], {}
    for scene_name in names:
        scene = load_scene(root, scene_name)
        for name in dets:
            row, scores, shifts = _evaluate(name, scene, quick)
            rows.append(row)
            shift_rows.extend(shifts)
            maps[(scene_name, name)] = scores
            print(
                f"{scene_name} {name} roc_auc={row['roc_auc']:.4f} fit={row['fit_s']:.1f}s",
                flush=True,
            )
    frame = pd.DataFrame(rows)
    shift = pd.DataFrame(shift_rows)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    stem = "spectral" + (f"_{dataset}" if dataset else "") + ("_quick" if quick else "")
    csv = out / f"{stem}.csv"
    frame.to_csv(csv, index=False)
    shift.to_csv(out / f"{stem}_shift.csv", index=False)
    (out / f"{stem}.md").write_text(markdown(frame, shift))
    _html(frame, shift, maps, root, out / f"{stem}.html")
    return csv


def summary(frame: pd.DataFrame, shift: pd.DataFrame) -> pd.DataFrame:
    """Mean pixel ROC-AUC / AP per detector, the published RX mean, and the mean injected-
    shift ROC-AUC per shift size."""
    means = frame.groupby("detector", sort=False).agg(
        roc_auc=("roc_auc", "mean"),
        ap=("ap", "mean"),
        published_rx=("published_rx_roc_auc", "mean"),
        fit_s=("fit_s", "mean"),
    )
    if len(shift):
        wide = shift.pivot_table(index="detector", columns="shift_bands", values="roc_auc")
        wide.columns = [f"shift_{c:g}_roc_auc" for c in wide.columns]
        means = means.join(wide)
    return means.reset_index()


def markdown(frame: pd.DataFrame, shift: pd.DataFrame) -> str:
    per_scene = frame.pivot_table(index="scene", columns="detector", values="roc_auc")
    published = frame.groupby("scene")["published_rx_roc_auc"].first()
    per_scene.insert(0, "published RX", published)
    per_scene = per_scene.reset_index()
    return (
        "Mean over scenes (fit and score on each cube; shift columns: injected peak shifts)\n\n"
        + markdown_table(summary(frame, shift))
        + "\nPixel ROC-AUC per scene\n\n"
        + markdown_table(per_scene)
    )


def _html(frame, shift, maps, root: Path, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ..viz.html import HtmlReport

    report = HtmlReport("Spectral benchmark (ABU)")
    report.text("Fit and score on each cube; pixel ROC-AUC against the scene masks.", note=True)
    report.table(summary(frame, shift))
    for scene_name in frame["scene"].unique():
        scene = load_scene(root, scene_name)
        report.heading(scene_name)
        items = [(_norm(scene.mask.astype(float)), "ground truth")]
        for name in frame[frame.scene == scene_name].detector:
            s = maps[(scene_name, name)].reshape(scene.mask.shape)
            auc = float(
                frame[(frame.scene == scene_name) & (frame.detector == name)].roc_auc.iloc[0]
            )
            items.append((_norm(s), f"{name} (ROC-AUC {auc:.3f})"))
        report.gallery(items, width=200)
        fig, axes = plt.subplots(
            1, len(items) - 1, figsize=(4 * (len(items) - 1), 3), squeeze=False
        )
        mean = scene.cube.reshape(-1, scene.cube.shape[2]).mean(axis=0)
        for ax, name in zip(axes[0], frame[frame.scene == scene_name].detector, strict=False):
            top = np.argsort(maps[(scene_name, name)])[::-1][:5]
            ax.plot(mean, "k", lw=2, label="mean spectrum")
            for p in top:
                hit = "anomaly" if scene.mask.ravel()[p] else "background"
                ax.plot(scene.cube.reshape(-1, scene.cube.shape[2])[p], lw=0.8, label=hit)
            ax.set_title(f"{name}: top 5 pixels")
            ax.set_xlabel("band")
            ax.legend(fontsize=6)
        report.image(fig, "spectra of each detector's five highest-scoring pixels")
    report.write(path)


def _norm(a: np.ndarray) -> np.ndarray:
    """A score map ranked to [0, 1] (ranks, so one huge pixel does not flatten the rest)."""
    r = np.argsort(np.argsort(a.ravel())).reshape(a.shape).astype(float)
    return r / max(r.max(), 1.0)


__all__ = ["run", "summary", "shifted_scene", "detector_names"]
