"""Prometheus text exposition (format 0.0.4) of the service's counters, written by hand:
requests by endpoint/method/status, a request latency histogram, and samples scored and
flagged per model."""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Sized

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _labels(**labels: str) -> str:
    return "{" + ",".join(f'{k}="{_label(v)}"' for k, v in labels.items()) + "}"


class Metrics:
    """Thread-safe counters; ``render()`` gives the exposition text."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._requests: dict[tuple[str, str, int], int] = defaultdict(int)
        self._buckets: dict[str, list[int]] = {}
        self._sum: dict[str, float] = defaultdict(float)
        self._count: dict[str, int] = defaultdict(int)
        self._scored: dict[str, int] = defaultdict(int)
        self._flagged: dict[str, int] = defaultdict(int)
        self._rejected: dict[str, int] = defaultdict(int)
        self._gauges: dict[str, tuple[str, Sized]] = {}

    def gauge(self, name: str, help_text: str, source: Sized) -> None:
        """Expose ``len(source)`` as gauge ``name`` (read at every ``render``)."""
        self._gauges[name] = (help_text, source)

    def observe_request(self, endpoint: str, method: str, status: int, seconds: float) -> None:
        with self._lock:
            self._requests[(endpoint, method, status)] += 1
            buckets = self._buckets.setdefault(endpoint, [0] * len(LATENCY_BUCKETS))
            for i, bound in enumerate(LATENCY_BUCKETS):
                if seconds <= bound:
                    buckets[i] += 1
            self._sum[endpoint] += seconds
            self._count[endpoint] += 1

    def observe_scores(self, model: str, n: int, flagged: int) -> None:
        with self._lock:
            self._scored[model] += n
            self._flagged[model] += flagged

    def reject(self, reason: str) -> None:
        with self._lock:
            self._rejected[reason] += 1

    def render(self) -> str:
        with self._lock:
            out = [
                "# HELP normalcy_requests_total Requests answered, by endpoint, method and status.",
                "# TYPE normalcy_requests_total counter",
            ]
            for (endpoint, method, status), n in sorted(self._requests.items()):
                labels = _labels(endpoint=endpoint, method=method, status=str(status))
                out.append(f"normalcy_requests_total{labels} {n}")
            out += [
                "# HELP normalcy_request_seconds Request latency in seconds, by endpoint.",
                "# TYPE normalcy_request_seconds histogram",
            ]
            for endpoint, buckets in sorted(self._buckets.items()):
                for bound, n in zip(LATENCY_BUCKETS, buckets, strict=True):
                    labels = _labels(endpoint=endpoint, le=f"{bound:g}")
                    out.append(f"normalcy_request_seconds_bucket{labels} {n}")
                labels = _labels(endpoint=endpoint, le="+Inf")
                out.append(f"normalcy_request_seconds_bucket{labels} {self._count[endpoint]}")
                ep = _labels(endpoint=endpoint)
                out.append(f"normalcy_request_seconds_sum{ep} {self._sum[endpoint]:.6f}")
                out.append(f"normalcy_request_seconds_count{ep} {self._count[endpoint]}")
            out += [
                "# HELP normalcy_scored_total Samples scored, by model.",
                "# TYPE normalcy_scored_total counter",
            ]
            for model, n in sorted(self._scored.items()):
                out.append(f"normalcy_scored_total{_labels(model=model)} {n}")
            out += [
                "# HELP normalcy_flagged_total Samples flagged anomalous by the calibrated "
                "threshold, by model.",
                "# TYPE normalcy_flagged_total counter",
            ]
            for model, n in sorted(self._flagged.items()):
                out.append(f"normalcy_flagged_total{_labels(model=model)} {n}")
            out += [
                "# HELP normalcy_rejected_total Requests refused before reaching a model, by "
                "reason (auth, too_large, busy, streams_full).",
                "# TYPE normalcy_rejected_total counter",
            ]
            for reason, n in sorted(self._rejected.items()):
                out.append(f"normalcy_rejected_total{_labels(reason=reason)} {n}")
            for name, (help_text, source) in sorted(self._gauges.items()):
                out += [
                    f"# HELP {name} {help_text}",
                    f"# TYPE {name} gauge",
                    f"{name} {len(source)}",
                ]
        return "\n".join(out) + "\n"
