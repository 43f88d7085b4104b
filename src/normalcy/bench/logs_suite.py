"""Log benchmark: every registered log detector on the shared log sets, side by side.

``normalcy bench logs [--dataset hdfs|openstack|BGL|Thunderbird] [--root PATH]
[--detectors a,b] [--limit N] [--quick]``; from Python ``run(...)``.

Data (``<root>``, default ``$NORMALCY_SHARED/datasets`` or ``../shared/datasets``)
    ``hdfs`` and ``openstack``: sessions of template ids (``logs/NAME/sessions.jsonl``).
    ``BGL`` and ``Thunderbird``: the Loghub 2k samples' raw lines in time order, cut into
    count windows of 20 lines (``datasets.logs.load_loghub``: the first half of the windows
    is the train split); a window is anomalous when one of its lines carries an alert
    label. Each detector parses raw lines with its own Drain3 parser, fitted on its fit
    sessions. Thunderbird's 2k sample holds no alert line: its scores are reported as the
    share of test windows flagged (the false-positive rate), without ROC-AUC or F1.

Protocol (the same for every detector and data set; defaults, nothing tuned per set)
    * **Fit** on the normal sessions of the train split (labelled anomalies are left out,
      as DeepLog trains on normal sessions).
    * **Calibrate** ``det.calibrate(cal, fpr=0.01)`` on held-out normal sessions: a seeded
      20 % (``numpy.random.default_rng(seed)``, at least ``MIN_CAL`` = 10) of the normal train
      sessions when the train split has at least ``MIN_TRAIN`` of them (hdfs); otherwise
      (openstack: 19 train sessions; BGL: 39 normal train windows; Thunderbird: 50) a
      seeded 20 % (at least 10) of the test split's *normal* sessions, left out of the
      evaluation, and every normal train session is used for fitting.
    * **Evaluate** on the remaining test sessions: precision, recall and F1 of the
      calibrated decisions (``score > threshold``; no threshold is ever picked with labels),
      the false-positive rate they give on the test normals, and, for comparison with
      papers, ROC-AUC, average precision and the best F1 over all thresholds (``best_f1``,
      which does use the labels).
    * **Speed**, one CPU thread (``threadpoolctl`` and torch): fit seconds, scoring seconds,
      test sessions/s and log lines/s of ``score`` (which includes Drain3 matching for raw
      lines).
    * **Throughput** (``logs_throughput.csv``): each detector is fitted on the raw lines of
      ``THROUGHPUT_FIT`` synthetic HDFS-like sessions (``datasets.synthetic_logs``) and then
      parses and scores about ``THROUGHPUT_LINES`` fresh raw lines (distinct block ids and
      addresses, so Drain3's line cache never helps) grouped into block sessions by their
      block id, one thread; lines/s counts parsing, grouping, encoding and scoring, per
      wall-clock second (``lines_per_s``) and per CPU second of the process
      (``lines_per_cpu_s``: with one thread, what one core delivers even when the machine
      is shared). The issue's target, at least 10,000 lines/s on one core for the
      count-vector and DeepLog paths, is judged on ``lines_per_cpu_s`` (``target_10k``).

Without ``dataset``, every set present under the root runs (absent ones are skipped).
``limit`` keeps at most that many sessions of each part (fit, calibration, test; seeded);
``quick`` uses each detector's ``quick_params``, ``limit`` 300 and 5,000 throughput lines
(a smoke test, not a measurement).

Outputs in ``out_dir``: ``logs_<set>.csv`` per data set, ``logs.csv`` (every set; with
``--dataset`` only that set's file is written), ``logs_throughput.csv``, ``logs[_<set>].md``
and ``logs[_<set>].html`` (tables and per-session event timelines of the top-ranked test
sessions, ``bench.logs_report``).
"""

from __future__ import annotations

import os
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..core.errors import InputError, NormalcyError
from ..core.registry import create, get_class
from ..core.registry import detectors as registered
from ..logs.sessions import Sessions
from .progress import progress_bar
from .tables import markdown_table

DATASETS = ("hdfs", "openstack", "BGL", "Thunderbird")
FPR = 0.01
CAL_SHARE = 0.2
MIN_CAL = 10  # the fewest scores a threshold is calibrated from (Threshold.at_fpr)
MIN_TRAIN = 100
QUICK_LIMIT = 300
THROUGHPUT_FIT = 1000
THROUGHPUT_LINES = 100_000
QUICK_THROUGHPUT_LINES = 5_000
TOP_SESSIONS = 8
HDFS_BLOCK = r"blk_-?\d+"


def detector_names(detectors: list[str] | None = None) -> list[str]:
    """The requested log detectors (every registered one by default)."""
    if detectors:
        for name in detectors:
            info = get_class(name).info
            if info.modality != "logs":
                raise InputError(f"detector {name!r} is a {info.modality} detector, not logs")
        return list(dict.fromkeys(detectors))
    return [info.name for info in registered("logs")]


def make_detector(
    name: str, quick: bool = False, seed: int = 0, overrides: dict[str, Any] | None = None
):
    """``name`` with its defaults (``quick_params`` with ``quick``), ``seed`` and overrides."""
    cls = get_class(name)
    params: dict[str, Any] = dict(cls.quick_params or {}) if quick else {}
    if "seed" in cls.info.params:
        params.setdefault("seed", seed)
    params.update(overrides or {})
    return create(name, **params)


def resolve_root(root: Path | None) -> Path:
    """The folder holding ``logs/`` and ``loghub/``."""
    if root is None:
        root = Path(os.environ.get("NORMALCY_SHARED", Path("..") / "shared")) / "datasets"
    root = Path(root)
    if not (root / "logs").is_dir() and not (root / "loghub").is_dir():
        if (root / "datasets").is_dir():
            root = root / "datasets"
        else:
            raise InputError(
                f"no log data sets at {root} (expected logs/ and loghub/); pass --root PATH"
            )
    return root


@dataclass
class Split:
    """One data set cut by the protocol."""

    name: str
    fit: Sessions
    cal: Sessions
    test: Sessions
    labels: np.ndarray
    cal_from: str
    notes: list[str] = field(default_factory=list)

    @property
    def has_anomalies(self) -> bool:
        return bool(self.labels.sum() > 0)


def _present(root: Path, name: str) -> bool:
    if name in ("hdfs", "openstack"):
        return (root / "logs" / name / "sessions.jsonl").is_file()
    return (root / "loghub" / name / f"{name}_2k.log_structured.csv").is_file()


def _sample(n: int, k: int, rng: np.random.Generator) -> np.ndarray:
    return np.sort(rng.choice(n, size=k, replace=False)) if k < n else np.arange(n)


def split(name: str, root: Path, limit: int | None = None, seed: int = 0) -> Split:
    """Fit, calibration and test sessions of data set ``name`` (the module's protocol)."""
    from ..datasets.logs import SESSION_SETS, load_loghub, load_sessions

    if name in SESSION_SETS:
        data = load_sessions(root, name)
    elif name in ("BGL", "Thunderbird"):
        data = load_loghub(root, name)
    else:
        raise InputError(f"unknown log data set {name!r}; known: {DATASETS}")
    rng = np.random.default_rng(seed)
    labels = data.labels
    train_normal = np.flatnonzero((data.split == "train") & (labels == 0))
    test = np.flatnonzero(data.split == "test")
    notes = []
    if len(train_normal) >= MIN_TRAIN:
        k = max(MIN_CAL, int(round(CAL_SHARE * len(train_normal))))
        cal = np.sort(rng.choice(train_normal, size=k, replace=False))
        fit = np.setdiff1d(train_normal, cal)
        cal_from = "train"
    else:
        test_normal = test[labels[test] == 0]
        k = min(len(test_normal), max(MIN_CAL, int(round(CAL_SHARE * len(test_normal)))))
        cal = np.sort(rng.choice(test_normal, size=k, replace=False))
        fit = train_normal
        test = np.setdiff1d(test, cal)
        cal_from = "test normals (left out of the evaluation)"
        notes.append(
            f"{len(train_normal)} normal train sessions (< {MIN_TRAIN}): {k} test normals "
            "calibrate and are left out of the evaluation"
        )
    if limit is not None:
        fit = fit[_sample(len(fit), int(limit), rng)]
        cal = cal[_sample(len(cal), int(limit), rng)]
        test = test[_sample(len(test), int(limit), rng)]
    if not labels[test].any():
        notes.append(
            "no labelled anomaly among the test sessions: only the flagged share is "
            "reported (ROC-AUC, AP and F1 are undefined)"
        )
    s = data.sessions
    out = Split(name, s.subset(fit), s.subset(cal), s.subset(test), labels[test], cal_from, notes)
    out.notes.extend(diagnostics(out, s.subset(np.flatnonzero(labels == 0))))
    return out


def diagnostics(data: Split, normal: Sessions) -> list[str]:
    """What limits every detector on this data, measured on the data alone.

    Event-key sessions: how many test anomalies have exactly the event sequence of some
    normal session of the set (no detector that reads event sequences can flag them
    without flagging that normal session too), and the resulting ceilings. Raw-line
    sessions: the share of test lines whose Drain3 template (a parser fitted on the fit
    lines, as every detector does) was never seen in fit, for normal and anomalous windows.
    """
    y = data.labels
    n_bad = int(y.sum())
    if data.test.events is not None and normal.events is not None:
        if n_bad == 0:
            return []
        seen = {tuple(e) for e in normal.events}
        same = sum(tuple(e) in seen for e, label in zip(data.test.events, y, strict=True) if label)
        recall = (n_bad - same) / n_bad
        best = 2 * recall / (1 + recall) if recall > 0 else 0.0
        return [
            f"{same} of {n_bad} anomalous test sessions have exactly the event sequence of a "
            "normal session of this set: at no false positive, recall is at most "
            f"{recall:.3f} and F1 at most {best:.3f} for any detector reading event sequences"
        ]
    if data.test.lines is None or data.fit.lines is None:
        return []
    from ..logs.parsing import LogParser

    parser = LogParser()
    parser.learn(line for s in data.fit.lines for line in s)
    known = {c for c in parser.templates}
    share = []
    for label in (0, 1):
        lines = [ln for s, lab in zip(data.test.lines, y, strict=True) if lab == label for ln in s]
        if lines:
            new = sum(parser.parse(ln).template not in known for ln in lines)
            share.append(
                f"{new / len(lines):.0%} of the {len(lines)} lines of "
                f"{'anomalous' if label else 'normal'} test windows"
            )
    return ["templates never seen in fit (Drain3 fitted on the fit lines): " + "; ".join(share)]


def _metrics(y: np.ndarray, scores: np.ndarray, flagged: np.ndarray) -> dict[str, float]:
    from ..metrics import auroc, average_precision, f1_max

    out: dict[str, float] = {"flagged": float(flagged.mean()) if len(flagged) else np.nan}
    normal = y == 0
    out["fpr"] = float(flagged[normal].mean()) if normal.any() else np.nan
    if not y.any():
        out.update(precision=np.nan, recall=np.nan, f1=np.nan, roc_auc=np.nan, ap=np.nan)
        out["best_f1"] = np.nan
        return out
    tp = int((flagged & (y == 1)).sum())
    fp = int((flagged & normal).sum())
    fn = int((~flagged & (y == 1)).sum())
    out["precision"] = tp / (tp + fp) if tp + fp else 0.0
    out["recall"] = tp / (tp + fn) if tp + fn else 0.0
    p, r = out["precision"], out["recall"]
    out["f1"] = 2 * p * r / (p + r) if p + r else 0.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out["roc_auc"] = float(auroc(y, scores))
        out["ap"] = float(average_precision(y, scores))
        out["best_f1"] = float(f1_max(y, scores))
    return out


@dataclass
class Outcome:
    """One detector on one data set: its results row and what the report shows."""

    row: dict[str, Any]
    scores: np.ndarray | None = None
    maps: np.ndarray | None = None
    lengths: np.ndarray | None = None
    threshold: float | None = None


def evaluate(
    name: str,
    data: Split,
    quick: bool = False,
    seed: int = 0,
    overrides: dict[str, Any] | None = None,
) -> Outcome:
    """Fit, calibrate and score one detector on one data set (the module's protocol)."""
    row: dict[str, Any] = {"dataset": data.name, "detector": name}
    n_lines = data.test.n_lines()
    row.update(n_fit=len(data.fit), n_cal=len(data.cal), n_test=len(data.test))
    row["n_test_anomalous"] = int(data.labels.sum())
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            det = make_detector(name, quick, seed, overrides)
            t0 = time.perf_counter()
            det.fit(data.fit)
            t1 = time.perf_counter()
            det.calibrate(data.cal, fpr=FPR)
            t2 = time.perf_counter()
            res = det.score(data.test)
            t3 = time.perf_counter()
    except (NormalcyError, ValueError, RuntimeError, MemoryError, np.linalg.LinAlgError) as exc:
        row["error"] = f"{type(exc).__name__}: {exc}"[:300]
        return Outcome(row)
    assert det.threshold is not None and res.labels is not None
    row.update(_metrics(data.labels, res.scores, np.asarray(res.labels, dtype=bool)))
    score_s = t3 - t2
    row.update(
        threshold=float(det.threshold.value),
        fit_s=t1 - t0,
        score_s=score_s,
        sessions_per_s=len(data.test) / score_s if score_s > 0 else np.nan,
        lines_per_s=n_lines / score_s if score_s > 0 else np.nan,
        error="",
    )
    lengths = res.extras.get("lengths") if res.extras else None
    return Outcome(row, res.scores, res.maps, lengths, float(det.threshold.value))


def throughput(name: str, n_lines: int, quick: bool = False, seed: int = 0) -> dict[str, Any]:
    """Raw lines parsed and scored per second on one thread (see the module docstring)."""
    from ..datasets.synthetic_logs import make_logs

    fit = make_logs(n_train=THROUGHPUT_FIT, n_test=1, contamination=0.0, seed=seed).train
    n_sessions = max(1, n_lines // 12)  # a normal block session has about 12 lines
    test = make_logs(n_train=1, n_test=n_sessions, contamination=0.0, seed=seed + 1).test
    lines = [line for s in test.lines or [] for line in s]
    row: dict[str, Any] = {"detector": name, "fit_sessions": len(fit), "lines": len(lines)}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            det = make_detector(name, quick, seed).fit(fit)
            c0, t0 = time.process_time(), time.perf_counter()
            sessions = Sessions.from_lines(lines, group_by=HDFS_BLOCK)
            res = det.score(sessions)
            elapsed = time.perf_counter() - t0
            cpu = time.process_time() - c0
    except (NormalcyError, ValueError, RuntimeError, MemoryError) as exc:
        row["error"] = f"{type(exc).__name__}: {exc}"[:300]
        return row
    per_cpu = len(lines) / cpu if cpu > 0 else np.nan
    row.update(
        sessions=len(res.scores),
        seconds=elapsed,
        cpu_s=cpu,
        lines_per_s=len(lines) / elapsed if elapsed > 0 else np.nan,
        lines_per_cpu_s=per_cpu,
        target_10k=bool(per_cpu >= 10_000),
        error="",
    )
    return row


def _torch_one_thread() -> None:
    try:
        import torch
    except ImportError:  # pragma: no cover
        return
    torch.set_num_threads(1)


COLUMNS = [
    "dataset",
    "detector",
    "f1",
    "precision",
    "recall",
    "fpr",
    "roc_auc",
    "ap",
    "best_f1",
    "fit_s",
    "sessions_per_s",
    "lines_per_s",
]


def run(
    *,
    dataset: str | None = None,
    root: Path | None = None,
    out_dir: Path = Path("benchmarks/results"),
    detectors: list[str] | None = None,
    limit: int | None = None,
    quick: bool = False,
    seed: int = 0,
    throughput_lines: int | None = None,
) -> Path:
    """Run the log benchmark (see the module docstring); returns the results CSV."""
    from threadpoolctl import threadpool_limits

    from .logs_report import write_report

    names = detector_names(detectors)
    if not names:
        raise InputError("no log detector is registered")
    if dataset is not None and dataset not in DATASETS:
        raise InputError(f"dataset must be one of {DATASETS} for the logs suite, got {dataset!r}")
    data_root = resolve_root(root)
    sets = [dataset] if dataset else [d for d in DATASETS if _present(data_root, d)]
    if quick and limit is None:
        limit = QUICK_LIMIT
    if throughput_lines is None:
        throughput_lines = QUICK_THROUGHPUT_LINES if quick else THROUGHPUT_LINES
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = f"logs_{dataset}" if dataset else "logs"
    rows: list[dict[str, Any]] = []
    shown: dict[str, tuple[Split, dict[str, Outcome]]] = {}
    speed: list[dict[str, Any]] = []
    progress, task = progress_bar(len(sets) * len(names) + len(names), "logs")
    _torch_one_thread()
    with threadpool_limits(1), progress:
        for set_name in sets:
            data = split(set_name, data_root, limit, seed)
            outcomes: dict[str, Outcome] = {}
            for name in names:
                progress.update(task, description=f"{set_name} {name}")
                outcomes[name] = evaluate(name, data, quick, seed)
                rows.append(outcomes[name].row)
                progress.advance(task)
            frame = _frame([o.row for o in outcomes.values()])
            frame.to_csv(out_dir / f"logs_{set_name}.csv", index=False)
            shown[set_name] = (data, outcomes)
        if throughput_lines > 0:
            for name in names:
                progress.update(task, description=f"throughput {name}")
                speed.append(throughput(name, throughput_lines, quick, seed))
                progress.advance(task)
    frame = _frame(rows)
    csv = out_dir / f"{stem}.csv"
    if not dataset:
        frame.to_csv(csv, index=False)
    speed_frame = pd.DataFrame(speed)
    if len(speed_frame):
        speed_frame.to_csv(out_dir / "logs_throughput.csv", index=False)
    notes = {k: v[0].notes for k, v in shown.items()}
    (out_dir / f"{stem}.md").write_text(markdown(frame, speed_frame, notes, quick))
    write_report(out_dir / f"{stem}.html", frame, speed_frame, shown, notes, TOP_SESSIONS)
    return csv


def _frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    frame = pd.DataFrame(rows)
    for col in [*COLUMNS, "error"]:
        if col not in frame:
            frame[col] = "" if col == "error" else np.nan
    rest = [c for c in frame.columns if c not in COLUMNS]
    return frame[[*COLUMNS, *rest]]


def protocol_text(quick: bool = False) -> str:
    return (
        "Fit on the normal train sessions; threshold calibrated at FPR "
        f"{FPR} on held-out normal sessions (a seeded {CAL_SHARE:.0%}, at least {MIN_CAL}, of "
        "the normal train "
        f"sessions when there are at least {MIN_TRAIN}, else of the test normals, which are "
        "then left out of the evaluation); F1, precision, recall and FPR of the calibrated "
        "decisions; ROC-AUC, AP and best-F1 (label-picked threshold, for comparison with "
        "papers); one CPU thread; default parameters, nothing tuned per data set."
        + (" QUICK RUN (quick_params, small samples): not a measurement." if quick else "")
    )


def markdown(
    frame: pd.DataFrame, speed: pd.DataFrame, notes: dict[str, list[str]], quick: bool
) -> str:
    parts = ["# Log benchmark\n", protocol_text(quick) + "\n"]
    for set_name, sub in frame.groupby("dataset", sort=False):
        parts.append(f"## {set_name}\n")
        for note in notes.get(str(set_name), []):
            parts.append(f"- {note}\n")
        cols = [c for c in COLUMNS if c != "dataset"]
        parts.append(markdown_table(sub, cols))
        errors = sub[sub["error"].fillna("").astype(str) != ""]
        for r in errors.itertuples():
            parts.append(f"- {r.detector} failed: {r.error}\n")
    if len(speed):
        parts.append("## Throughput: raw lines parsed and scored, one thread\n")
        cols = ["detector", "lines", "seconds", "cpu_s", "lines_per_s", "lines_per_cpu_s"]
        cols = [c for c in [*cols, "target_10k"] if c in speed]
        parts.append(markdown_table(speed, cols))
    return "\n".join(parts)
