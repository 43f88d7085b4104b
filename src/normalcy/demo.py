"""The built-in demo: registered detectors of every modality on synthetic data, one report.

For each modality whose ``Modality`` description names a demo (``normalcy/<modality>/demo.py``,
built on ``normalcy.datasets.synthetic``) and that has at least one registered detector, every registered detector of that modality runs with its demo
settings: the class attribute ``demo_params`` when it declares one, else ``quick_params``
(small, fast settings); ``--quick`` always uses ``quick_params`` and smaller data. Each is
fitted on the synthetic normal training part, calibrated at a false-positive rate of 5 % on
a held-out normal part, and scores the test part. The metrics (AUROC, AP, pixel AUROC and
AUPRO, VUS-PR and event F1, TPR/FPR at the threshold) are printed as one table per modality
and written, with pictures, to ``<out>/index.html``; ``<out>/results.csv`` holds them all.
Detectors are picked from the registry, so new ones join the demo without editing it. A
detector that fails makes the demo fail.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .core.errors import NormalcyError
from .core.modality import modalities as registered_modalities
from .core.registry import DetectorInfo, get_class

FPR = 0.05
SEED = 0


# Result columns, in display order: (key, console header). Columns no run has are dropped.
COLUMNS = (
    ("auroc", "AUROC"),
    ("ap", "AP"),
    ("pixel_auroc", "px AUROC"),
    ("aupro", "AUPRO"),
    ("vus_pr", "VUS-PR"),
    ("event_f1", "event F1"),
    ("tpr_at_threshold", "TPR"),
    ("fpr_at_threshold", "FPR"),
)


# ---------------------------------------------------------------------------------------
# one run = one detector on one modality's data
# ---------------------------------------------------------------------------------------
@dataclass
class Run:
    """The outcome of one detector in the demo."""

    info: DetectorInfo
    params: dict[str, Any]
    scores: Any  # normalcy Scores of the test part
    threshold: float
    fit_s: float
    score_s: float
    metrics: dict[str, float] = field(default_factory=dict)


class ModalityDemo:
    """Data and pictures of one modality; subclasses build the data in ``__init__``."""

    modality = ""
    title = ""
    fit_data: Any
    holdout: Any
    test: Any
    labels: np.ndarray

    def describe(self) -> str:
        raise NotImplementedError

    def metrics(self, scores: Any) -> dict[str, float]:
        from .metrics import auroc, average_precision

        labels = self.labels
        out = {
            "auroc": auroc(labels, scores.scores),
            "ap": average_precision(labels, scores.scores),
        }
        if scores.labels is not None:
            flagged = scores.labels.astype(bool)
            out["tpr_at_threshold"] = float(flagged[labels == 1].mean())
            out["fpr_at_threshold"] = float(flagged[labels == 0].mean())
        return out

    def pictures(self, report: Any, runs: list[Run]) -> None:
        from .viz import roc_figure

        curves = [(r.info.name, self.labels, r.scores.scores) for r in runs]
        report.image(roc_figure(curves, title=f"ROC: {self.title}"), width=420)

    def histograms(self, report: Any, runs: list[Run]) -> None:
        """Normal vs anomalous test scores of each detector, with its threshold."""
        from .viz import score_histogram

        items = []
        for r in runs:
            s = r.scores.scores
            fig = score_histogram(
                s[self.labels == 0], s[self.labels == 1], r.threshold, title=r.info.name
            )
            items.append((fig, f"{r.info.name}: AUROC {r.metrics['auroc']:.3f}"))
        report.text("Test scores (dashed: the calibrated threshold):")
        report.gallery(items, width=300)


def demo_classes() -> dict[str, type[ModalityDemo]]:
    """Modality name → its demo class, for every modality that declares one, in order."""
    return {m.name: m.resolve("demo") for m in registered_modalities() if m.demo is not None}


def __getattr__(name: str) -> Any:
    """``DEMOS`` (modality → demo class) is read from the modality registry when asked."""
    if name == "DEMOS":
        return demo_classes()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# ---------------------------------------------------------------------------------------
# the demo
# ---------------------------------------------------------------------------------------
class DemoError(NormalcyError):
    """A detector failed in the demo, or the demo was asked for something it cannot do."""


def select_detectors(
    modalities: list[str] | None = None, detectors: list[str] | None = None
) -> dict[str, list[DetectorInfo]]:
    """Detectors to run, grouped by modality: every registered detector of every modality
    that has demo data (or only the named ones / modalities)."""
    import normalcy as nc

    available = demo_classes()
    if modalities:
        unknown = [m for m in modalities if m not in available]
        if unknown:
            raise DemoError(
                f"the demo has no data for modality {unknown}; it covers {sorted(available)}"
            )
    if detectors:
        infos = [get_class(name).info for name in detectors]
        lacking = [i.name for i in infos if i.modality not in available]
        if lacking:
            raise DemoError(
                f"the demo has no data for {lacking}; it covers modalities {sorted(available)}"
            )
    else:
        infos = [i for i in nc.detectors() if i.modality in available]
    chosen: dict[str, list[DetectorInfo]] = {}
    for info in infos:
        if modalities and info.modality not in modalities:
            continue
        chosen.setdefault(info.modality, []).append(info)
    if not chosen:
        raise DemoError("no registered detector matches the demo's selection")
    return {m: chosen[m] for m in available if m in chosen}


def evaluate(det: Any, demo: ModalityDemo) -> Run:
    """Fit ``det`` on ``demo``'s normal data, calibrate it on the hold-out, score the test
    part and measure; errors name the detector and are never swallowed."""
    info = det.info
    try:
        t0 = time.perf_counter()
        det.fit(demo.fit_data)
        fit_s = time.perf_counter() - t0
        threshold = det.calibrate(demo.holdout, fpr=FPR)
        t0 = time.perf_counter()
        scores = det.score(demo.test)
        score_s = time.perf_counter() - t0
    except NormalcyError as exc:
        raise DemoError(
            f"detector {info.name!r} ({info.modality}) failed in the demo: {exc}"
        ) from exc
    except Exception as exc:
        raise RuntimeError(
            f"detector {info.name!r} ({info.modality}) failed in the demo: "
            f"{type(exc).__name__}: {exc}"
        ) from exc
    run = Run(info, det.get_params(), scores, threshold.value, fit_s, score_s)
    run.metrics = demo.metrics(scores)
    return run


def demo_params(info: DetectorInfo, quick: bool = False) -> dict[str, Any]:
    """The settings a detector runs with in the demo: its ``demo_params`` class attribute
    when it declares one (and ``quick`` is off), else its ``quick_params``."""
    cls = get_class(info.name)
    params = None if quick else getattr(cls, "demo_params", None)
    return dict(cls.quick_params if params is None else params)


def run_one(info: DetectorInfo, demo: ModalityDemo, quick: bool = False) -> Run:
    """A registered detector, with its demo settings, through ``evaluate``."""
    import normalcy as nc

    try:
        det = nc.create(info.name, **demo_params(info, quick))
    except NormalcyError as exc:
        raise DemoError(f"detector {info.name!r} could not be created for the demo: {exc}") from exc
    return evaluate(det, demo)


def results_frame(runs: list[Run]):
    """One row per run: modality, detector, the metrics any run reported, and timings."""
    import pandas as pd

    present = [k for k, _ in COLUMNS if any(k in r.metrics for r in runs)]
    rows = []
    for r in runs:
        row: dict[str, Any] = {"modality": r.info.modality, "detector": r.info.name}
        row.update({k: r.metrics.get(k, np.nan) for k in present})
        row.update({"fit_s": r.fit_s, "score_s": r.score_s})
        rows.append(row)
    return pd.DataFrame(rows)


def _print_tables(frame: Any, console: Any) -> None:
    """One table per modality, each with the metrics that modality reports."""
    from rich import box
    from rich.table import Table

    headers = dict(COLUMNS)
    for modality, part in frame.groupby("modality", sort=False):
        cols = [c for c in frame.columns if c in headers and part[c].notna().any()]
        table = Table(
            title=f"{modality} (TPR, FPR: test set at the threshold calibrated for FPR {FPR:g})",
            title_justify="left",
            box=box.SIMPLE_HEAD,
            pad_edge=False,
            collapse_padding=True,
        )
        table.add_column("detector", no_wrap=True)
        for col in cols:
            table.add_column(headers[col], justify="right", no_wrap=True)
        table.add_column("time s", justify="right", no_wrap=True)
        for _, row in part.iterrows():
            cells = [str(row["detector"])]
            cells += ["–" if np.isnan(row[c]) else f"{row[c]:.3f}" for c in cols]
            cells.append(f"{row['fit_s'] + row['score_s']:.1f}")
            table.add_row(*cells)
        console.print(table)


def build_report(
    demos: dict[str, ModalityDemo], runs: dict[str, list[Run]], frame: Any, quick: bool = False
):
    """The HTML report: the results table, then each modality's data and pictures."""
    from . import __version__
    from .viz import HtmlReport

    report = HtmlReport("normalcy demo")
    report.text(
        f"normalcy {__version__}: {len(frame)} detectors on built-in synthetic data. Each "
        f"detector is fitted on normal data only, its threshold is calibrated at a "
        f"false-positive rate of {FPR:g} on held-out normal data, and it scores a test set "
        f"with known anomalies. TPR and FPR are measured on the test set at that threshold. "
        f"Detectors run with small demo settings{' and small data (--quick)' if quick else ''}: "
        "methods that train a network get only a few training steps here, so their numbers "
        "say that the method runs end to end, not how well it does with its full settings."
    )
    for modality, demo in demos.items():
        report.heading(demo.title[:1].upper() + demo.title[1:])
        report.text(demo.describe())
        part = frame[frame["modality"] == modality].dropna(axis=1, how="all")
        names = {**dict(COLUMNS), "fit_s": "fit s", "score_s": "score s"}
        report.table(part.drop(columns="modality").rename(columns=names), float_format="{:.3f}")
        demo.pictures(report, runs[modality])
    return report


def run_demo(
    out: str | Path = "demo-report",
    *,
    quick: bool = False,
    modalities: list[str] | None = None,
    detectors: list[str] | None = None,
    console: Any = None,
):
    """Run the demo and write ``out/index.html`` and ``out/results.csv``.

    Returns the results as a pandas DataFrame (one row per detector).
    """
    import matplotlib

    matplotlib.use("Agg")
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        SpinnerColumn,
        TextColumn,
        TimeElapsedColumn,
    )

    console = console or Console()
    out = Path(out)
    started = time.perf_counter()
    chosen = select_detectors(modalities, detectors)
    total = sum(len(v) for v in chosen.values())
    runs: dict[str, list[Run]] = {}
    demos: dict[str, ModalityDemo] = {}
    progress = Progress(
        SpinnerColumn(),
        TextColumn("{task.description:<32}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        disable=not console.is_terminal,
    )
    with progress:
        task = progress.add_task("generating data", total=total)
        for modality, infos in chosen.items():
            progress.update(task, description=f"{modality}: generating data")
            demos[modality] = demo = demo_classes()[modality](quick)
            runs[modality] = []
            for info in infos:
                progress.update(task, description=f"{modality}: {info.name}")
                runs[modality].append(run_one(info, demo, quick))
                progress.advance(task)
        progress.update(task, description="drawing the report")
        frame = results_frame([r for rs in runs.values() for r in rs])
        report = build_report(demos, runs, frame, quick=quick)
    _print_tables(frame, console)
    elapsed = time.perf_counter() - started
    report.text(f"Generated in {elapsed:.1f} s.", note=True)
    out.mkdir(parents=True, exist_ok=True)
    frame.to_csv(out / "results.csv", index=False)
    path = report.write(out / "index.html")
    console.print(f"report: [bold]{path}[/]  ({elapsed:.1f} s)")
    return frame
