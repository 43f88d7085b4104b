"""HTML report of the log benchmark: result tables and per-session event timelines.

For every data set and every detector that localises, the ``top`` highest-scored test
sessions are drawn as a row of cells, one per event in log order, each coloured by its
per-event score (white = 0, red = the largest per-event score among the rows shown for that
detector). Hovering a cell shows the event's template (or raw line) and its score; the
event the detector localises (the highest per-event score of the session) has a thick
border. Each row shows the session's score, whether it passes the calibrated threshold and
its true label. Detectors that do not localise get a ranking table instead.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..viz import HtmlReport

MAX_CELLS = 120  # events drawn per session (longer sessions are cut, and say so)

_CSS = (
    "<style>.tl{display:flex;flex-wrap:wrap;gap:1px;margin:.1rem 0 .5rem}"
    ".tl span{display:inline-block;width:11px;height:16px;border:1px solid #bbb}"
    ".tl span.loc{border:2px solid #000}.sess{font-size:.8rem;color:#333}"
    ".bad{color:#b00;font-weight:bold}.ok{color:#070}</style>"
)


class _Report(HtmlReport):
    def raw(self, fragment: str) -> _Report:
        """Append an HTML fragment built (and escaped) by this module."""
        self._parts.append(fragment)
        return self


def _colour(value: float, top: float) -> str:
    share = 0.0 if top <= 0 else float(np.clip(value / top, 0.0, 1.0))
    g = int(round(255 * (1 - share)))
    return f"rgb(255,{g},{g})"


def _event_texts(sessions: Any, i: int) -> list[str]:
    if sessions.events is not None:
        keys = sessions.events[i]
        return [f"{k}: {sessions.templates.get(k, '')}" for k in keys]
    return list(sessions.lines[i]) if sessions.lines is not None else []


def timeline(
    sessions: Any, i: int, events: np.ndarray, top: float, score: float, flagged: bool, label: int
) -> str:
    """One session as an HTML row of coloured event cells."""
    texts = _event_texts(sessions, i)
    loc = int(np.argmax(events)) if len(events) else -1
    cells = []
    for j, value in enumerate(events[:MAX_CELLS]):
        tip = html.escape(f"#{j} score {value:.3f} | {texts[j] if j < len(texts) else ''}")
        cls = ' class="loc"' if j == loc else ""
        cells.append(f'<span{cls} style="background:{_colour(value, top)}" title="{tip}"></span>')
    more = f" (first {MAX_CELLS} of {len(events)} events)" if len(events) > MAX_CELLS else ""
    truth = '<span class="bad">anomalous</span>' if label else '<span class="ok">normal</span>'
    where = html.escape(texts[loc][:160]) if 0 <= loc < len(texts) else "–"
    head = (
        f'<div class="sess">{html.escape(str(sessions.ids[i]))}: score {score:.4g}, '
        f"{'flagged' if flagged else 'not flagged'}, true label {truth}, "
        f"{len(events)} events{more}; localised event #{loc}: <code>{where}</code></div>"
    )
    return head + '<div class="tl">' + "".join(cells) + "</div>"


def write_report(
    path: Path,
    frame: pd.DataFrame,
    speed: pd.DataFrame,
    shown: dict[str, Any],
    notes: dict[str, list[str]],
    top: int,
) -> Path:
    """Write the benchmark's HTML report to ``path``."""
    from .logs_suite import COLUMNS, protocol_text

    report = _Report("Log benchmark")
    report.raw(_CSS)
    report.text(protocol_text(), note=True)
    for set_name, (data, outcomes) in shown.items():
        report.heading(f"{set_name}")
        for note in notes.get(set_name, []):
            report.text(note, note=True)
        sub = frame[frame["dataset"] == set_name]
        report.table(sub[[c for c in COLUMNS if c != "dataset"]], float_format="{:.4g}")
        for name, out in outcomes.items():
            if out.scores is None:
                continue
            order = np.argsort(-out.scores, kind="stable")[:top]
            report.heading(f"{name}: the {len(order)} highest-scored test sessions", level=3)
            if out.maps is None:
                rows = pd.DataFrame(
                    {
                        "session": [data.test.ids[i] for i in order],
                        "score": out.scores[order],
                        "flagged": out.scores[order] > (out.threshold or np.inf),
                        "label": data.labels[order],
                    }
                )
                report.table(rows, float_format="{:.4g}")
                continue
            lengths = out.lengths if out.lengths is not None else np.full(len(out.scores), 0)
            per = [np.asarray(out.maps[i, : int(lengths[i])], dtype=np.float64) for i in order]
            peak = max((float(e.max()) for e in per if len(e)), default=0.0)
            fragments = [
                timeline(
                    data.test,
                    int(i),
                    e,
                    peak,
                    float(out.scores[i]),
                    bool(out.scores[i] > (out.threshold if out.threshold is not None else np.inf)),
                    int(data.labels[i]),
                )
                for i, e in zip(order, per, strict=True)
            ]
            report.raw("".join(fragments))
    if len(speed):
        report.heading("Throughput: raw lines parsed and scored, one thread")
        report.table(speed, float_format="{:.4g}")
    errors = frame[frame["error"].fillna("").astype(str) != ""]
    if len(errors):
        report.heading("Failures")
        report.table(errors[["dataset", "detector", "error"]])
    return report.write(path)
