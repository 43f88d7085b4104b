"""A catalogue of hostile inputs crossed with the public entry points, and how to judge them.

The promise under test: every case either succeeds with finite outputs, or raises a
``nc.NormalcyError`` subclass with a message. Anything else is a *violation*: a raw
numpy/pandas/sklearn/torch/PIL/zlib exception, a NaN/inf score or threshold, or a silently
wrong result (a case marked ``must_refuse`` that succeeded).

Used by ``tests/hostile/test_hostile.py`` (a representative subset, asserting zero
violations) and ``scripts/probe_hostile.py`` (every detector × every case, in subprocesses,
printing a table of violations by cause).
"""

from __future__ import annotations

import copy
import io
import math
import struct
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

import normalcy as nc
from normalcy.core import get_class

BIG_INT = 10**400
# Cases that may allocate gigabytes when a detector does not refuse them early: run them
# only in a memory-limited child process (``scripts/probe_hostile.py``), never in pytest's.
HEAVY = ("huge-dims", "bomb")


# ---------------------------------------------------------------------------------------
# cases and outcomes
# ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Case:
    """One hostile input at one entry point. ``run(ctx)`` returns outputs to check."""

    category: str  # entry point and kind, e.g. "fit:data", "create:param", "cli"
    label: str
    run: Callable[[Context], Any]
    must_refuse: bool = False  # success would be a silently wrong result

    @property
    def key(self) -> str:
        return f"{self.category} | {self.label}"


class SilentlyWrong(AssertionError):
    """Raised by a case that detected a silently wrong result (a violation)."""


@dataclass
class Outcome:
    """``status``: "ok" (finite outputs), "refused" (a NormalcyError) or "violation"."""

    case: str
    status: str
    cause: str = ""  # for violations: "raw TypeError", "non-finite output", ...
    message: str = ""

    def as_dict(self) -> dict[str, str]:
        return {
            "case": self.case,
            "status": self.status,
            "cause": self.cause,
            "message": self.message,
        }


def non_finite(out: Any, depth: int = 0) -> str:
    """A description of the first non-finite number in ``out`` (empty when all finite)."""
    if depth > 4 or out is None or isinstance(out, (str, bytes, Path, nc.Detector)):
        return ""
    if isinstance(out, nc.Scores):
        for name in ("scores", "maps"):
            arr = getattr(out, name)
            if arr is not None and not np.isfinite(np.asarray(arr, dtype=np.float64)).all():
                return f"{name} hold NaN/inf"
        if out.scores.dtype != np.float64:
            return f"scores have dtype {out.scores.dtype}, expected float64"
        return ""
    if isinstance(out, nc.Threshold):
        return "" if math.isfinite(out.value) else f"threshold value {out.value}"
    if isinstance(out, (bool, np.bool_)):
        return ""
    if isinstance(out, (int, float, np.number)):
        return "" if np.isfinite(float(out)) else f"output {out}"
    if isinstance(out, np.ndarray) and out.dtype.kind in "fc":
        return "" if np.isfinite(out).all() else "array holds NaN/inf"
    if isinstance(out, (list, tuple)):
        for item in out:
            bad = non_finite(item, depth + 1)
            if bad:
                return bad
    return ""


def _short(text: str, limit: int = 160) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def attempt(case: Case, ctx: Context) -> Outcome:
    """Run one case and judge it against the promise."""
    try:
        out = case.run(ctx)
    except nc.NormalcyError as exc:
        return Outcome(case.key, "refused", type(exc).__name__, _short(exc))
    except (KeyboardInterrupt, SystemExit):
        raise
    except SilentlyWrong as exc:
        return Outcome(case.key, "violation", "silently wrong result", _short(exc))
    except BaseException as exc:  # noqa: BLE001 - judging is the point
        kind = type(exc)
        name = (
            kind.__name__ if kind.__module__ == "builtins" else f"{kind.__module__}.{kind.__name__}"
        )
        return Outcome(case.key, "violation", f"raw {name}", _short(exc))
    if case.must_refuse:
        return Outcome(case.key, "violation", "silently accepted", "expected an InputError")
    bad = non_finite(out)
    if bad:
        return Outcome(case.key, "violation", "non-finite output", bad)
    return Outcome(case.key, "ok")


# ---------------------------------------------------------------------------------------
# per-detector context: small data, a fitted detector, a scratch folder
# ---------------------------------------------------------------------------------------
@dataclass
class Context:
    name: str
    tmp: Path
    copy_fitted: bool = True  # False: cases share one fitted detector (faster, less isolated)
    _fitted: Any = None
    _files: dict[str, Path] = field(default_factory=dict)

    @property
    def info(self):
        return get_class(self.name).info

    @property
    def modality(self) -> str:
        return self.info.modality

    @property
    def quick(self) -> dict[str, Any]:
        return dict(get_class(self.name).quick_params)

    def new(self, **params: Any):
        return nc.create(self.name, **{**self.quick, **params})

    @property
    def train(self) -> Any:
        return DATA[self.modality]()[0]

    @property
    def test(self) -> Any:
        return DATA[self.modality]()[1]

    def fitted(self):
        """A fresh copy of one detector fitted on the standard data (cases may mutate it)."""
        if self._fitted is None:
            self._fitted = self.new().fit(self.train)
        return copy.deepcopy(self._fitted) if self.copy_fitted else self._fitted


def _tabular() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    return rng.normal(size=(40, 3)), rng.normal(size=(12, 3))


def _series() -> tuple[np.ndarray, np.ndarray]:
    t = np.arange(900)
    base = np.stack([np.sin(2 * np.pi * t / 40), np.cos(2 * np.pi * t / 40)], axis=1)
    series = base + 0.05 * np.random.default_rng(1).normal(size=base.shape)
    return series[:600], series[600:]


def _images() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(2)
    return (
        (rng.random((10, 64, 64)) * 80 + 80).astype(np.uint8),
        (rng.random((3, 64, 64)) * 80 + 80).astype(np.uint8),
    )


def _logs() -> tuple[Any, Any]:
    from normalcy.datasets.synthetic_logs import make_logs

    data = make_logs(n_train=60, n_test=12, contamination=0.25, seed=4)
    return data.train, data.test


def _graphs() -> tuple[Any, Any]:
    from normalcy.datasets.synthetic_graphs import make_graphs

    data = make_graphs(n_train=30, n_test=8, contamination=0.25, seed=7)
    return data.train, data.test


def _nodes() -> tuple[Any, Any]:
    from normalcy.datasets.synthetic_graphs import make_node_graph

    graph = make_node_graph(n_nodes=80, n_features=4, n_communities=4, seed=8).graph
    return graph, graph


def _events() -> tuple[Any, Any]:
    from normalcy.events.synthetic import make_events

    data = make_events(n_train=120, n_test=20, n_anomalies=2, seed=4)
    return data.train, data.test


def _spectral() -> tuple[np.ndarray, np.ndarray]:
    from normalcy.spectral.synthetic import make_cube

    return make_cube(12, 12, 10, seed=11), make_cube(8, 9, 10, seed=12)


def _segments() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(13)
    return rng.normal(size=(30, 48)), rng.normal(size=(8, 48))


def _video() -> tuple[np.ndarray, np.ndarray]:
    from normalcy.video.synthetic import make_clips

    return (
        make_clips(n_clips=2, n_frames=6, size=(32, 40), seed=11).clips,
        make_clips(n_clips=1, n_frames=6, size=(32, 40), anomaly="too_fast", seed=12).clips,
    )


DATA: dict[str, Callable[[], tuple[Any, Any]]] = {
    "tabular": _tabular,
    "series": _series,
    "image": _images,
    "logs": _logs,
    "graph": _graphs,
    "nodes": _nodes,
    "events": _events,
    "spectral": _spectral,
    "segments": _segments,
    "video": _video,
}


# ---------------------------------------------------------------------------------------
# hostile parameter values
# ---------------------------------------------------------------------------------------
HOSTILE_VALUES: dict[str, Any] = {
    "str": "abc",
    "empty str": "",
    "nan": float("nan"),
    "inf": float("inf"),
    "-inf": float("-inf"),
    "negative": -1,
    "zero": 0,
    "fraction": 0.5,
    "1e300": 1e300,
    "10**400": BIG_INT,
    "True": True,
    "None": None,
    "list": [1, 2],
    "dict": {"a": 1},
    "object": object(),
}


def _same(a: Any, b: Any) -> bool:
    try:
        return type(a) is type(b) and bool(a == b)
    except Exception:
        return False


def param_cases(name: str, values: dict[str, Any] | None = None) -> Iterator[Case]:
    """``create(name, p=hostile)`` for every parameter; when accepted, fit and score must
    still give finite scores or a NormalcyError."""
    values = HOSTILE_VALUES if values is None else values
    info = get_class(name).info
    for key, default in info.params.items():
        for label, value in values.items():
            if _same(value, default):
                continue

            def run(ctx: Context, key=key, value=value):
                det = ctx.new(**{key: value})
                det.fit(ctx.train)
                return det.score(ctx.test)

            yield Case("create:param", f"{key}={label}", run)
    yield Case("create:param", "unknown parameter", lambda ctx: ctx.new(no_such_param=1))


def registry_cases() -> Iterator[Case]:
    """Detector-independent ``create`` / ``load`` / ``detectors`` misuse."""
    yield Case("create:name", "unknown name", lambda ctx: nc.create("no_such_detector"))
    yield Case("create:name", "name=123", lambda ctx: nc.create(123))
    yield Case("create:name", "name=None", lambda ctx: nc.create(None))
    yield Case("detectors", "modality='nope'", lambda ctx: nc.detectors("nope"))
    yield Case("load", "missing file", lambda ctx: nc.load(ctx.tmp / "missing.normalcy"))
    yield Case("load", "a folder", lambda ctx: nc.load(ctx.tmp))

    def garbage(ctx: Context) -> Any:
        path = ctx.tmp / "garbage.normalcy"
        path.write_bytes(b"\x00garbage" * 100)
        return nc.load(path)

    yield Case("load", "garbage bytes", garbage)

    def empty(ctx: Context) -> Any:
        path = ctx.tmp / "empty.normalcy"
        path.write_bytes(b"")
        return nc.load(path)

    yield Case("load", "empty file", empty)


# ---------------------------------------------------------------------------------------
# hostile data per modality
# ---------------------------------------------------------------------------------------
def _with(arr: np.ndarray, value: Any, where=(1, 0)) -> np.ndarray:
    out = arr.astype(np.float64).copy()
    out[where] = value
    return out


def _object_with_none(X: np.ndarray) -> np.ndarray:
    out = X.astype(object)
    out[1, 0] = None
    return out


def tabular_variants(X: np.ndarray) -> dict[str, Callable[[], Any]]:
    import pandas as pd

    n, d = X.shape
    frame = lambda: pd.DataFrame(X, columns=[f"f{i}" for i in range(d)])  # noqa: E731

    def col(values) -> Any:
        f = frame()
        f["extra"] = values
        return f.drop(columns=["f0"])

    return {
        "NaN": lambda: _with(X, np.nan),
        "inf": lambda: _with(X, np.inf),
        "-inf": lambda: _with(X, -np.inf),
        "1e300 everywhere": lambda: X * 1e300,
        "+-1e300 mixed": lambda: np.where(X > 0, 1e300, -1e300),
        "1e-300 everywhere": lambda: X * 1e-300,
        "1e308 one value": lambda: _with(X, 1e308),
        "complex": lambda: X.astype(np.complex128),
        "object numbers": lambda: X.astype(object),
        "object with None": lambda: _object_with_none(X),
        "bool": lambda: X > 0,
        "datetime64": lambda: np.full(X.shape, np.datetime64("2024-01-01")),
        "strings": lambda: np.full(X.shape, "abc"),
        "empty (0, d)": lambda: np.empty((0, d)),
        "empty (n, 0)": lambda: np.empty((n, 0)),
        "1 row": lambda: X[:1],
        "2 rows": lambda: X[:2],
        "ragged list": lambda: [[1.0, 2.0, 3.0], [1.0, 2.0]],
        "1-D": lambda: X[:, 0],
        "3-D": lambda: X[:, :, None],
        "scalar": lambda: 3.0,
        "None": lambda: None,
        "string": lambda: "not data",
        "dict": lambda: {"a": [1, 2]},
        "generator": lambda: (row for row in X),
        "int64 huge": lambda: np.full(X.shape, np.iinfo(np.int64).max),
        "uint64 max": lambda: np.full(X.shape, np.iinfo(np.uint64).max, dtype=np.uint64),
        "float16": lambda: X.astype(np.float16),
        "df string column": lambda: col(["a"] * n),
        "df datetime column": lambda: col(pd.date_range("2024", periods=n)),
        "df bool column": lambda: col([True, False] * (n // 2) + [True] * (n % 2)),
        "df category column": lambda: col(pd.Categorical(["a", "b"] * (n // 2) + ["a"] * (n % 2))),
        "df Int64 with NA": lambda: col(pd.array([1] * (n - 1) + [None], dtype="Int64")),
        "df complex column": lambda: col(np.ones(n, dtype=complex)),
        "df object numbers": lambda: col(np.ones(n).astype(object)),
        "df duplicate column names": lambda: pd.DataFrame(X, columns=["a"] * d),
        "df empty": lambda: pd.DataFrame(),
        "df MultiIndex columns": lambda: pd.DataFrame(
            X, columns=pd.MultiIndex.from_tuples([("a", str(i)) for i in range(d)])
        ),
        "pd.Series": lambda: pd.Series(X[:, 0]),
    }


def events_variants(F: Any) -> dict[str, Callable[[], Any]]:
    """Hostile categorical events (``F``: the standard event DataFrame)."""
    import pandas as pd

    n = len(F)

    def cell(column: str, value: Any) -> Any:
        out = F.astype({column: object}).copy()
        out.at[out.index[1], column] = value
        return out

    def column(column: str, values: Any) -> Any:
        out = F.copy()
        out[column] = values
        return out

    return {
        "NaN cell": lambda: cell("user", np.nan),
        "None cell": lambda: cell("user", None),
        "pd.NA cell": lambda: cell("user", pd.NA),
        "NaN numeric": lambda: column("bytes", np.nan),
        "inf numeric": lambda: cell("bytes", np.inf),
        "1e308 numeric": lambda: column("bytes", 1e308),
        "unseen categories": lambda: column("user", [f"new{i}" for i in range(n)]),
        "huge string": lambda: cell("host", "x" * 1_000_000),
        "huge strings everywhere": lambda: column(
            "host", ["y" * 100_000 + str(i) for i in range(n)]
        ),
        "non-UTF-8 bytes": lambda: cell("action", b"\xff\xfe\x00"),
        "lone surrogate": lambda: cell("action", "\ud800"),
        "list cell": lambda: cell("user", [1, 2]),
        "dict cell": lambda: cell("user", {"a": 1}),
        "set cell": lambda: cell("user", {1}),
        "array cell": lambda: cell("user", np.zeros(3)),
        "object cell": lambda: cell("user", object()),
        "nested DataFrame cell": lambda: cell("user", pd.DataFrame({"a": [1]})),
        "int cell in text column": lambda: cell("user", 7),
        "bool column": lambda: column("port", [True, False] * (n // 2) + [True] * (n % 2)),
        "category column": lambda: column("user", pd.Categorical(F["user"])),
        "strings in numeric column": lambda: column("bytes", ["lots"] * n),
        "datetime column": lambda: column("bytes", pd.date_range("2024", periods=n)),
        "timedelta column": lambda: column("bytes", pd.to_timedelta(np.arange(n), "s")),
        "complex column": lambda: column("bytes", np.ones(n, dtype=complex)),
        "Int64 with NA": lambda: column("bytes", pd.array([1] * (n - 1) + [None], dtype="Int64")),
        "uint64 max": lambda: column("bytes", np.full(n, np.iinfo(np.uint64).max, np.uint64)),
        "missing column": lambda: F.drop(columns=["host"]),
        "extra column": lambda: column("extra", 1),
        "duplicate column names": lambda: F.set_axis(["a", "a", "b", "c", "d"], axis=1),
        "int column names": lambda: F.set_axis(list(range(F.shape[1])), axis=1),
        "reordered columns": lambda: F[list(F.columns)[::-1]],
        "5000 columns": lambda: pd.DataFrame(np.zeros((n, 5000)).astype(str)),
        "empty (0 rows)": lambda: F.iloc[:0],
        "empty (0 columns)": lambda: F.iloc[:, :0],
        "1 row": lambda: F.iloc[:1],
        "list of dicts": lambda: F.to_dict(orient="records"),
        "list of dicts, one key missing": lambda: [
            {k: v for k, v in r.items() if not (i == 1 and k == "host")}
            for i, r in enumerate(F.to_dict(orient="records"))
        ],
        "list of lists": lambda: F.to_numpy().tolist(),
        "dict of columns": lambda: F.to_dict(orient="list"),
        "ragged dict of columns": lambda: {"user": ["a", "b"], "host": ["c"]},
        "numpy array": lambda: F.to_numpy(),
        "pd.Series": lambda: F["user"],
        "None": lambda: None,
        "string": lambda: "not events",
        "generator": lambda: (r for r in F.to_dict(orient="records")),
    }


def series_variants(S: np.ndarray) -> dict[str, Callable[[], Any]]:
    import pandas as pd

    T, C = S.shape
    cols = [f"c{i}" for i in range(C)]
    stamps = pd.date_range("2024-01-01", periods=T, freq="min")

    def frame(index) -> Any:
        return pd.DataFrame(S, index=index, columns=cols)

    def nat_index() -> Any:
        idx = stamps.to_series().copy()
        idx.iloc[5] = pd.NaT
        return frame(pd.DatetimeIndex(idx))

    return {
        "NaN": lambda: _with(S, np.nan, (5, 0)),
        "inf": lambda: _with(S, np.inf, (5, 0)),
        "all NaN": lambda: np.full(S.shape, np.nan),
        "1e300 everywhere": lambda: S * 1e300,
        "+-1e300 mixed": lambda: np.where(S > 0, 1e300, -1e300),
        "1e-300 everywhere": lambda: S * 1e-300,
        "complex": lambda: S.astype(np.complex128),
        "object numbers": lambda: S.astype(object),
        "bool": lambda: S > 0,
        "datetime64 values": lambda: np.full(S.shape, np.datetime64("2024-01-01")),
        "strings": lambda: np.full(S.shape, "abc"),
        "empty": lambda: np.empty((0, C)),
        "1 step": lambda: S[:1],
        "5 steps": lambda: S[:5],
        "3-D": lambda: S[:, :, None],
        "scalar": lambda: 1.0,
        "None": lambda: None,
        "string": lambda: "not a series",
        "list of strings": lambda: ["a", "b", "c"],
        "ragged list": lambda: [[1.0, 2.0], [1.0]],
        "df NaT in index": nat_index,
        "df mixed-type index": lambda: frame(pd.Index([i if i % 2 else str(i) for i in range(T)])),
        "df unsorted index": lambda: frame(stamps[::-1]),
        "df duplicate timestamps": lambda: frame(stamps.insert(1, stamps[0])[:T]),
        "df tz-aware index": lambda: frame(stamps.tz_localize("UTC")),
        "df string column": lambda: frame(stamps).assign(c0="x"),
        "df datetime column": lambda: frame(stamps).assign(c0=stamps),
        "pd.Series of strings": lambda: pd.Series(["a"] * T, index=stamps),
        "df Int64 with NA": lambda: frame(stamps).assign(
            c0=pd.array([1] * (T - 1) + [None], dtype="Int64")
        ),
    }


# -- images ------------------------------------------------------------------------------
def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def bomb_png(width: int, height: int) -> bytes:
    """A tiny PNG whose header declares ``width`` × ``height`` RGB pixels."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 1024)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", idat)
        + _png_chunk(b"IEND", b"")
    )


def _png_bytes(image: Any, fmt: str = "PNG") -> bytes:
    buf = io.BytesIO()
    image.save(buf, format=fmt)
    return buf.getvalue()


def image_files() -> dict[str, Callable[[], bytes]]:
    """Hostile image files, as (suffix-implied) bytes."""
    from PIL import Image

    rng = np.random.default_rng(3)
    gray = (rng.random((64, 64)) * 255).astype(np.uint8)
    rgb = Image.fromarray(np.stack([gray] * 3, axis=-1))
    good = _png_bytes(rgb)
    return {
        "corrupt bytes.png": lambda: b"\x89PNG\r\n\x1a\n" + b"\x13" * 500,
        "zero-size.png": lambda: b"",
        "text.png": lambda: b"this is not an image\n",
        "truncated.png": lambda: good[: len(good) // 2],
        "1x1.png": lambda: _png_bytes(Image.new("RGB", (1, 1))),
        "1x64.png": lambda: _png_bytes(Image.new("RGB", (1, 64))),
        "LA.png": lambda: _png_bytes(Image.fromarray(np.stack([gray, gray], -1), "LA")),
        "palette.png": lambda: _png_bytes(rgb.convert("P")),
        "16-bit.png": lambda: _png_bytes(Image.fromarray(gray.astype(np.uint16) * 257)),
        "1-bit.png": lambda: _png_bytes(Image.fromarray(gray > 128)),
        "RGBA.png": lambda: _png_bytes(rgb.convert("RGBA")),
        "CMYK.jpg": lambda: _png_bytes(rgb.convert("CMYK"), "JPEG"),
        "float32 TIFF.tif": lambda: _png_bytes(
            Image.fromarray(gray.astype(np.float32) * 1e30), "TIFF"
        ),
        "bomb 100000x100000.png": lambda: bomb_png(100_000, 100_000),
        "bomb 12000x12000.png": lambda: bomb_png(12_000, 12_000),
    }


def image_variants(X: np.ndarray) -> dict[str, Callable[[], Any]]:
    f = X.astype(np.float32) / 255
    return {
        "NaN float": lambda: _with(f, np.nan, (0, 0, 0)).astype(np.float32),
        "inf float": lambda: _with(f, np.inf, (0, 0, 0)).astype(np.float32),
        "float out of [0,1]": lambda: f * 300,
        "negative float": lambda: f - 2,
        "complex": lambda: X.astype(np.complex64),
        "bool": lambda: X > 100,
        "int64": lambda: X.astype(np.int64),
        "int64 negative": lambda: X.astype(np.int64) - 1000,
        "object": lambda: X.astype(object),
        "strings": lambda: np.full(X.shape, "a"),
        "empty (0,H,W)": lambda: X[:0],
        "1-D": lambda: X.reshape(-1)[:64],
        "2-D": lambda: X[0],
        "5-D": lambda: X[:, :, :, None, None],
        "1x1 images": lambda: X[:, :1, :1],
        "4x4 images": lambda: X[:, :4, :4],
        "1 channel axis": lambda: X[..., None],
        "2 channels (LA)": lambda: np.stack([X, X], axis=-1),
        "5 channels": lambda: np.repeat(X[..., None], 5, axis=-1),
        "huge-dims view 20000x20000": lambda: np.broadcast_to(
            X[:1, :1, :1], (len(X), 20000, 20000)
        ),
        "None": lambda: None,
        "scalar": lambda: 3,
        "missing path": lambda: "no/such/folder",
        "list of missing paths": lambda: ["no/such/a.png", "no/such/b.png"],
        "list mixing array and str": lambda: [X[0], "no/such.png"],
        "empty list": lambda: [],
        "list of ragged arrays": lambda: [X[0], X[0][:10, :7]],
    }


def image_file_variants(ctx: Context) -> dict[str, Callable[[], Any]]:
    """Folders of good images plus one hostile file, and hostile single files."""
    from PIL import Image

    out: dict[str, Callable[[], Any]] = {}
    base = ctx.tmp / "images"
    for label, make_bytes in image_files().items():

        def folder(label=label, make_bytes=make_bytes) -> Any:
            where = base / ("folder-" + label.replace(" ", "_"))
            if not where.exists():
                where.mkdir(parents=True)
                for i, img in enumerate(ctx.train[:9]):
                    Image.fromarray(img).save(where / f"good{i}.png")
                (where / ("z-" + label.replace(" ", "_"))).write_bytes(make_bytes())
            return str(where)

        def single(label=label, make_bytes=make_bytes) -> Any:
            path = base / ("single-" + label.replace(" ", "_"))
            if not path.exists():
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(make_bytes())
            return str(path)

        out[f"folder + {label}"] = folder
        out[f"file {label}"] = single

    def empty_folder() -> Any:
        where = base / "empty"
        where.mkdir(parents=True, exist_ok=True)
        return str(where)

    def non_images() -> Any:
        where = base / "non-images"
        where.mkdir(parents=True, exist_ok=True)
        (where / "notes.txt").write_text("hello")
        return str(where)

    out["empty folder"] = empty_folder
    out["folder of non-images"] = non_images
    return out


def video_variants(X: np.ndarray) -> dict[str, Callable[[], Any]]:
    """Clips (N, T, H, W) uint8 made hostile: pixels, shapes, sizes changing mid-clip."""
    f = X.astype(np.float32) / 255
    resized = [X[0], np.pad(X[1], ((0, 0), (0, 8), (0, 4)))]
    mid_clip = [np.pad(X[0][:3], ((0, 0), (0, 8), (0, 8))), X[0][3:]]
    return {
        "NaN float": lambda: _with(f, np.nan, (0, 1, 2, 3)).astype(np.float32),
        "inf float": lambda: _with(f, np.inf, (0, 1, 2, 3)).astype(np.float32),
        "float out of [0,1]": lambda: f * 300,
        "complex": lambda: X.astype(np.complex64),
        "bool": lambda: X > 100,
        "int64": lambda: X.astype(np.int64),
        "object": lambda: X.astype(object),
        "strings": lambda: np.full(X.shape, "a"),
        "empty (0,T,H,W)": lambda: X[:0],
        "clips without frames": lambda: [X[0][:0]],
        "1-D": lambda: X.reshape(-1)[:64],
        "2-D": lambda: X[0, 0],
        "6-D": lambda: X[..., None, None],
        "1x1 frames": lambda: X[:, :, :1, :1],
        "single-frame clips": lambda: X[:, :1],
        "one clip (T,H,W)": lambda: X[0],
        "RGB clips (N,T,H,W,3)": lambda: np.repeat(X[..., None], 3, axis=-1),
        "RGBA clip": lambda: np.repeat(X[0][..., None], 4, axis=-1),
        "5 channels": lambda: np.repeat(X[..., None], 5, axis=-1),
        "clips of two sizes": lambda: resized,
        "clip list with a larger clip": lambda: [np.concatenate(mid_clip[1:]), mid_clip[0]],
        "huge-dims view 20000x20000": lambda: np.broadcast_to(
            X[:1, :1, :1, :1], (1, 2, 20000, 20000)
        ),
        "None": lambda: None,
        "scalar": lambda: 3,
        "bytes": lambda: b"\x00\x00",
        "missing path": lambda: "no/such/video.mp4",
        "list of missing paths": lambda: ["no/such/a.mp4", "no/such/b"],
        "list mixing array and int": lambda: [X[0], 5],
        "empty list": lambda: [],
    }


def video_file_variants(ctx: Context) -> dict[str, Callable[[], Any]]:
    """Frame folders with a corrupt or truncated frame, empty folders, broken video files."""
    from PIL import Image

    base = ctx.tmp / "video"
    out: dict[str, Callable[[], Any]] = {}

    def frames(label: str, bad: bytes | None, name: str = "003.png") -> Any:
        where = base / label
        if not where.exists():
            where.mkdir(parents=True)
            for t, img in enumerate(ctx.train[0]):
                Image.fromarray(img).save(where / f"{t:03d}.png")
            if bad is not None:
                (where / name).write_bytes(bad)
        return str(where)

    good = _png_bytes(Image.fromarray(ctx.train[0][0]))
    out["frame folder"] = lambda: frames("good", None)
    out["frame folder, one corrupt frame"] = lambda: frames("corrupt", b"\x89PNG garbage")
    out["frame folder, one truncated frame"] = lambda: frames("truncated", good[: len(good) // 2])
    out["frame folder, a bomb frame"] = lambda: frames("bomb", bomb_png(12_000, 12_000))

    def empty() -> Any:
        (base / "empty").mkdir(parents=True, exist_ok=True)
        return str(base / "empty")

    def fake_video() -> Any:
        path = base / "fake.mp4"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"not a video at all" * 10)
        return str(path)

    out["empty folder"] = empty
    out["garbage .mp4"] = fake_video
    return out


def logs_variants(train: Any) -> dict[str, Callable[[], Any]]:
    """Log input: raw bytes that are not UTF-8, empty and malformed sessions, odd keys."""
    import pandas as pd

    from normalcy.logs.sessions import Sessions

    lines = [line for s in train.lines for line in s]
    keys = [[str(i % 5) for i in range(n)] for n in (3, 7, 1, 12)]
    return {
        "non-UTF-8 bytes lines": lambda: [b"\xff\xfe" + x.encode() + b"\x80" for x in lines],
        "lines with NUL bytes": lambda: [x + "\x00\x00" for x in lines],
        "one 1 MB line": lambda: ["x" * 1_000_000, *lines],
        "a single string": lambda: "Receiving block blk_1 src: /1.2.3.4:50010",
        "empty list": lambda: [],
        "an empty session": lambda: [[], *keys],
        "only empty sessions": lambda: [[], []],
        "None as an event key": lambda: [["1", None, "2"], *keys],
        "float event keys": lambda: [[1.5, 2.0], *keys],
        "NaN event key": lambda: [[float("nan")], *keys],
        "nested lists as keys": lambda: [[["a"], ["b"]], *keys],
        "10k-char event key": lambda: [["k" * 20_000], *keys],
        "numpy 2-D int array": lambda: np.arange(40).reshape(8, 5) % 6,
        "records without events": lambda: [{"id": 1, "evts": [1, 2]}],
        "frame without events column": lambda: pd.DataFrame({"a": [1, 2]}),
        "frame of sessions": lambda: pd.DataFrame({"id": ["a", "b"], "events": keys[:2]}),
        "Sessions, raw lines": lambda: Sessions.from_lines(lines, window=7),
        "Sessions, mismatched ids": lambda: Sessions(ids=["a"], events=keys),
        "an int": lambda: 5,
        "None": lambda: None,
        "dict": lambda: {"events": [1, 2]},
    }


def graph_variants(train: Any) -> dict[str, Callable[[], Any]]:
    """One graph in hostile forms (a graph-level detector gets it inside a list)."""
    import networkx as nx

    from normalcy.graph.graphs import Graph

    g = train[0]
    n = g.n_nodes
    x = np.ones((n, 3))
    return {
        "isolated nodes only": lambda: Graph(n, np.zeros((2, 0), np.int64), g.x, g.node_labels),
        "self-loops only": lambda: Graph(n, np.stack([np.arange(n)] * 2), g.x, g.node_labels),
        "one node": lambda: Graph(1, np.zeros((2, 0), np.int64), None, np.zeros(1, np.int64)),
        "no nodes": lambda: Graph(0, np.zeros((2, 0), np.int64)),
        "edge to a missing node": lambda: Graph(n, np.array([[0], [n + 5]]), g.x, g.node_labels),
        "negative node id": lambda: Graph(n, np.array([[0], [-1]]), g.x, g.node_labels),
        "float edge ids": lambda: (np.array([[0.5], [1.0]]), x),
        "edge_index (3, E)": lambda: (np.zeros((3, 2), np.int64), x),
        "NaN features": lambda: (g.edge_index, np.full((n, 3), np.nan)),
        "features of another width": lambda: (g.edge_index, np.ones((n, 7))),
        "features for fewer nodes": lambda: (g.edge_index, np.ones((n - 1, 3))),
        "huge features": lambda: (g.edge_index, np.full((n, 3), 1e300)),
        "string features": lambda: (g.edge_index, np.full((n, 3), "a")),
        "networkx, no attributes": lambda: nx.path_graph(n),
        "networkx, ragged x": lambda: _ragged_networkx(),
        "a string": lambda: "graph",
        "None": lambda: None,
    }


def spectral_variants(C: np.ndarray) -> dict[str, Callable[[], Any]]:
    """One H x W x B cube in hostile forms."""
    return {
        "NaN": lambda: _with(C, np.nan, (1, 2, 0)),
        "inf": lambda: _with(C, np.inf, (1, 2, 0)),
        "all NaN": lambda: np.full(C.shape, np.nan),
        "1e300 everywhere": lambda: C * 1e300,
        "+-1e150 mixed": lambda: np.where(C > C.mean(), 1e150, -1e150),
        "1e-300 everywhere": lambda: C * 1e-300,
        "constant": lambda: np.ones_like(C),
        "constant band": lambda: np.concatenate(
            [C[:, :, :-1], np.full(C.shape[:2] + (1,), 3.0)], 2
        ),
        "complex": lambda: C.astype(np.complex128),
        "object numbers": lambda: C.astype(object),
        "bool": lambda: C > C.mean(),
        "strings": lambda: np.full(C.shape, "abc"),
        "one pixel": lambda: C[:1, :1],
        "one band": lambda: C[:, :, :1],
        "no pixels": lambda: C[:0],
        "2-D": lambda: C[:, :, 0],
        "5-D": lambda: C[None, :, :, :, None],
        "4-D stack": lambda: np.stack([C, C]),
        "list of cubes of two sizes": lambda: [C, C[:3, :4]],
        "band counts differ": lambda: [C, C[:, :, 1:]],
        "empty list": lambda: [],
        "ragged list": lambda: [[1.0, 2.0], [1.0]],
        "scalar": lambda: 1.0,
        "None": lambda: None,
        "string": lambda: "cube",
    }


def segments_variants(S: np.ndarray) -> dict[str, Callable[[], Any]]:
    """N x T segments in hostile forms."""
    return {
        "NaN": lambda: _with(S, np.nan, (1, 2)),
        "inf": lambda: _with(S, np.inf, (1, 2)),
        "all NaN": lambda: np.full(S.shape, np.nan),
        "1e300 everywhere": lambda: S * 1e300,
        "1e-300 everywhere": lambda: S * 1e-300,
        "constant": lambda: np.ones_like(S),
        "complex": lambda: S.astype(np.complex128),
        "object numbers": lambda: S.astype(object),
        "bool": lambda: S > 0,
        "strings": lambda: np.full(S.shape, "abc"),
        "one segment": lambda: S[:1],
        "3 samples": lambda: S[:, :3],
        "no segments": lambda: S[:0],
        "1-D": lambda: S[0],
        "4-D": lambda: S[:, :, None, None],
        "ragged list": lambda: [S[0], S[1, :10]],
        "empty list": lambda: [],
        "scalar": lambda: 1.0,
        "None": lambda: None,
        "string": lambda: "segments",
    }


def _ragged_networkx() -> Any:
    import networkx as nx

    G = nx.path_graph(3)
    for i, v in enumerate(G.nodes):
        G.nodes[v]["x"] = np.ones(i + 1)
    return G


# ---------------------------------------------------------------------------------------
# data cases at fit / score / calibrate
# ---------------------------------------------------------------------------------------
def variants(ctx: Context) -> dict[str, Callable[[], Any]]:
    if ctx.modality == "graph":
        one = graph_variants(ctx.train)
        out = {k: (lambda f=f: [*ctx.train[:5], f()]) for k, f in one.items()}
        return {**out, "empty list": lambda: [], "a single graph": lambda: ctx.train[0]}
    if ctx.modality == "nodes":
        return graph_variants([ctx.train])
    if ctx.modality == "logs":
        return logs_variants(ctx.train)
    if ctx.modality == "tabular":
        return tabular_variants(ctx.train)
    if ctx.modality == "series":
        return series_variants(ctx.train)
    if ctx.modality == "image":
        return {**image_variants(ctx.train), **image_file_variants(ctx)}
    if ctx.modality == "events":
        return events_variants(ctx.train)
    if ctx.modality == "spectral":
        return spectral_variants(ctx.train)
    if ctx.modality == "segments":
        return segments_variants(ctx.train)

    if ctx.modality == "video":
        return {**video_variants(ctx.train), **video_file_variants(ctx)}
    return {}


def data_cases(ctx: Context, entries=("fit", "score", "calibrate")) -> Iterator[Case]:
    for label, make_data in variants(ctx).items():
        if "fit" in entries:

            def fit(c: Context, make_data=make_data):
                det = c.new().fit(make_data())
                return det.score(c.test)

            yield Case("fit:data", label, fit)
        if "score" in entries:
            yield Case(
                "score:data", label, lambda c, make_data=make_data: c.fitted().score(make_data())
            )
        if "calibrate" in entries:
            yield Case(
                "calibrate:data",
                label,
                lambda c, make_data=make_data: c.fitted().calibrate(make_data(), fpr=0.1),
            )


def width_cases(ctx: Context) -> Iterator[Case]:
    """Data of the wrong width, and DataFrames whose columns were reordered or renamed."""
    import pandas as pd

    if ctx.modality in ("tabular", "series"):
        yield Case(
            "score:data",
            "one extra column",
            lambda c: c.fitted().score(np.hstack([c.test, c.test[:, :1]])),
        )
        yield Case("score:data", "one column fewer", lambda c: c.fitted().score(c.test[:, 1:]))
    if ctx.modality != "tabular":
        return

    def named(X: np.ndarray, names: list[str]) -> Any:
        return pd.DataFrame(X, columns=names)

    def fit_frame(c: Context):
        names = [f"f{i}" for i in range(c.train.shape[1])]
        return c.new().fit(named(c.train, names)), names

    def reordered(c: Context):
        det, names = fit_frame(c)
        return det.score(named(c.test, names)[names[::-1]])

    def renamed(c: Context):
        det, names = fit_frame(c)
        return det.score(named(c.test, [n.upper() for n in names]))

    def plain_array_after_frame(c: Context):
        det, _ = fit_frame(c)
        return det.score(c.test)

    yield Case("score:columns", "DataFrame columns reordered", reordered, must_refuse=True)
    yield Case("score:columns", "DataFrame columns renamed", renamed, must_refuse=True)
    yield Case("score:columns", "array after DataFrame fit", plain_array_after_frame)


def calibrate_cases() -> Iterator[Case]:
    fprs = {
        "fpr='abc'": "abc",
        "fpr=0": 0.0,
        "fpr=1": 1.0,
        "fpr=nan": float("nan"),
        "fpr=inf": float("inf"),
        "fpr=-0.1": -0.1,
        "fpr=2": 2.0,
        "fpr=None": None,
        "fpr=[0.1]": [0.1],
        "fpr=True": True,
        "fpr=10**400": BIG_INT,
        "fpr=1e-300": 1e-300,
    }
    for label, fpr in fprs.items():

        def run(c: Context, fpr=fpr):
            det = c.fitted()
            threshold = det.calibrate(c.train, fpr=fpr)
            return threshold, det.score(c.test)

        yield Case("calibrate:fpr", label, run)
    for label, rate in {
        "contamination='x'": "x",
        "contamination=0": 0.0,
        "contamination=1": 1.0,
        "contamination=nan": float("nan"),
        "contamination=-1": -1.0,
    }.items():
        yield Case(
            "calibrate:fpr",
            label,
            lambda c, rate=rate: c.fitted().calibrate(c.train, contamination=rate),
        )
    yield Case(
        "calibrate:fpr",
        "fpr and contamination",
        lambda c: c.fitted().calibrate(c.train, fpr=0.1, contamination=0.1),
    )


def lifecycle_cases() -> Iterator[Case]:
    yield Case("lifecycle", "score before fit", lambda c: c.new().score(c.test))
    yield Case("lifecycle", "calibrate before fit", lambda c: c.new().calibrate(c.train))
    yield Case("lifecycle", "save before fit", lambda c: c.new().save(c.tmp / "unfitted.normalcy"))

    def stale(c: Context):
        det = c.fitted()
        det.calibrate(c.train, fpr=0.1)
        det.fit(c.train)
        if det.threshold is not None or det.score(c.test).labels is not None:
            raise SilentlyWrong("a refitted detector kept its old threshold")
        return det.score(c.test)

    yield Case("lifecycle", "refit clears threshold", stale)

    def unwritable(c: Context):
        blocker = c.tmp / "a-file"
        blocker.write_text("x")
        return c.fitted().save(blocker / "sub" / "m.normalcy")

    yield Case("save", "path under a file", unwritable)
    yield Case("save", "save to a folder", lambda c: c.fitted().save(c.tmp))


def streaming_cases(ctx: Context) -> Iterator[Case]:
    if not ctx.info.streaming:
        return
    C = ctx.train.shape[1]
    points = {
        "10**400": BIG_INT,
        "inf": float("inf"),
        "nan": float("nan"),
        "-1e300": -1e300,
        "'abc'": "abc",
        "None": None,
        "wrong channel count": [1.0] * (C + 1),
        "2-D point": np.ones((2, C)),
        "complex": complex(1, 1),
        "vector of 10**400": [BIG_INT] * C,
        "vector of inf": [float("inf")] * C,
        "good vector": [0.1] * C,
    }
    for label, point in points.items():
        yield Case("stream:score_one", label, lambda c, p=point: c.fitted().score_one(p))

        def learn(c: Context, p=point):
            det = c.fitted()
            det.learn_one(p)
            return det.score_one([0.1] * C), det.score(c.test)

        yield Case("stream:learn_one", label, learn)
    batches = {
        "NaN batch": lambda c: _with(c.test, np.nan, (3, 0)),
        "empty batch": lambda c: np.empty((0, C)),
        "strings": lambda c: np.full(c.test.shape, "a"),
        "1e300 batch": lambda c: c.test * 1e300,
        "wrong width": lambda c: c.test[:, :1].repeat(C + 1, axis=1),
    }
    for label, make_batch in batches.items():

        def partial(c: Context, make_batch=make_batch):
            det = c.fitted()
            det.partial_fit(make_batch(c))
            return det.score(c.test)

        yield Case("stream:partial_fit", label, partial)

    def fresh_stream(c: Context):
        det = c.new()
        outs = [det.score_one([0.1] * C)]
        for row in c.train[:20]:
            det.learn_one(row)
            outs.append(det.score_one(row))
        return outs

    yield Case("stream:score_one", "fresh detector, first steps", fresh_stream)


def is_heavy(case: Case) -> bool:
    return any(marker in case.label for marker in HEAVY)


def detector_cases(ctx: Context, *, params: bool = True) -> list[Case]:
    """Every case for one detector."""
    cases: list[Case] = []
    if params:
        cases.extend(param_cases(ctx.name))
    cases.extend(data_cases(ctx))
    cases.extend(width_cases(ctx))
    cases.extend(calibrate_cases())
    cases.extend(lifecycle_cases())
    cases.extend(streaming_cases(ctx))
    return cases


# ---------------------------------------------------------------------------------------
# command line
# ---------------------------------------------------------------------------------------
def _cli(*args: str) -> Any:
    """Run the CLI in-process; a clean refusal (exit 2, one message) is a NormalcyError."""
    from typer.testing import CliRunner

    from normalcy.cli import app

    result = CliRunner().invoke(app, [str(a) for a in args], catch_exceptions=True)
    exc = result.exception
    if exc is not None and not isinstance(exc, SystemExit):
        raise exc
    if result.exit_code == 2:
        raise nc.InputError(result.output.strip()[-300:] or "exit code 2")
    if result.exit_code != 0:
        raise RuntimeError(f"exit code {result.exit_code}: {result.output.strip()[-300:]}")
    return None


def unix_seconds_csv(path: Path) -> Path:
    """A series CSV whose ``timestamp`` column holds Unix seconds (2023-11-14 onwards)."""
    t = np.arange(400)
    values = np.sin(2 * np.pi * t / 25) + 0.05 * np.random.default_rng(0).normal(size=t.size)
    lines = ["timestamp,value"] + [
        f"{1_700_000_000 + 60 * i},{v:.6f}" for i, v in enumerate(values)
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


def cli_cases() -> Iterator[Case]:
    def tab_csv(c: Context) -> Path:
        path = c.tmp / "tab.csv"
        if not path.exists():
            X = np.random.default_rng(0).normal(size=(40, 3))
            path.write_text(
                "a,b,c\n" + "\n".join(",".join(f"{v:.5f}" for v in r) for r in X) + "\n"
            )
        return path

    def model(c: Context) -> Path:
        path = c.tmp / "ecod.normalcy"
        if not path.exists():
            _cli("fit", "ecod", tab_csv(c), "--out", path)
        return path

    for value in ("abc", "", "1e400", "NaN", "-5", "[1,2]", "{}", "true", "null", "0.5"):
        yield Case(
            "cli:fit",
            f"--param n_estimators={value}",
            lambda c, v=value: _cli(
                "fit",
                "iforest",
                tab_csv(c),
                "--out",
                c.tmp / "m.normalcy",
                "--param",
                f"n_estimators={v}",
            ),
        )
    for item in ("=5", "novalue", "no_such=1", "seed=1e400"):
        yield Case(
            "cli:fit",
            f"--param {item}",
            lambda c, item=item: _cli(
                "fit", "ecod", tab_csv(c), "--out", c.tmp / "m.normalcy", "--param", item
            ),
        )

    def writer(name: str, content: bytes) -> Callable[[Context], Path]:
        def make(c: Context) -> Path:
            path = c.tmp / name
            path.write_bytes(content)
            return path

        return make

    files = {
        "missing file": lambda c: c.tmp / "missing.csv",
        "empty CSV": writer("empty.csv", b""),
        "header-only CSV": writer("header.csv", b"a,b,c\n"),
        "CSV of strings": writer("strings.csv", b"a,b\nx,y\nz,w\n"),
        "CSV with NaN": writer("nan.csv", b"a,b\n1,2\n,3\n4,5\n"),
        "CSV ragged": writer("ragged.csv", b"a,b\n1,2,3,4\n5\n"),
        "binary CSV": writer("binary.csv", bytes(range(256)) * 4),
        "non-Parquet .parquet": writer("fake.parquet", b"a,b\n1,2\n3,4\n"),
        "empty .parquet": writer("empty.parquet", b""),
        "unknown suffix": writer("data.xlsx", b"a,b\n1,2\n"),
        "a folder": lambda c: c.tmp,
        "bad timestamps": writer("ts.csv", b"timestamp,v\nnot-a-time,1\nlater,2\nnever,3\n"),
        "NaT timestamps": writer("nat.csv", b"timestamp,v\n2024-01-01,1\n,2\n2024-01-03,3\n"),
    }
    for label, make_file in files.items():
        yield Case(
            "cli:fit",
            f"data: {label}",
            lambda c, f=make_file: _cli("fit", "ecod", f(c), "--out", c.tmp / "m.normalcy"),
        )
        yield Case(
            "cli:score",
            f"data: {label}",
            lambda c, f=make_file: _cli("score", model(c), f(c), "--out", c.tmp / "s.csv"),
        )
    outs = {
        "--out under a file": lambda c: (
            (c.tmp / "blocker").write_text("x") and c.tmp / "blocker" / "m.normalcy"
        ),
        "--out /proc": lambda c: Path("/proc/normalcy-test/m.normalcy"),
        "--out a folder": lambda c: c.tmp,
    }
    for label, make_out in outs.items():
        yield Case(
            "cli:fit",
            label,
            lambda c, o=make_out: _cli("fit", "ecod", tab_csv(c), "--out", o(c)),
        )
        yield Case(
            "cli:score",
            label.replace(".normalcy", ".csv"),
            lambda c, o=make_out: _cli(
                "score", model(c), tab_csv(c), "--out", Path(str(o(c)).replace(".normalcy", ".csv"))
            ),
        )
    yield Case(
        "cli:score",
        "--out .txt",
        lambda c: _cli("score", model(c), tab_csv(c), "--out", c.tmp / "s.txt"),
    )
    yield Case(
        "cli:score",
        "model: garbage file",
        lambda c: _cli(
            "score", writer("g.normalcy", b"junk")(c), tab_csv(c), "--out", c.tmp / "s.csv"
        ),
    )
    yield Case(
        "cli:score",
        "model: missing",
        lambda c: _cli("score", c.tmp / "none.normalcy", tab_csv(c), "--out", c.tmp / "s.csv"),
    )
    for fpr in ("0", "1", "nan", "inf", "-1", "abc"):
        yield Case(
            "cli:calibrate",
            f"--fpr {fpr}",
            lambda c, fpr=fpr: _cli(
                "calibrate", model(c), tab_csv(c), "--fpr", fpr, "--out", c.tmp / "cal.normalcy"
            ),
        )
    yield Case(
        "cli:fit",
        "unknown detector",
        lambda c: _cli("fit", "nope", tab_csv(c), "--out", c.tmp / "m.normalcy"),
    )

    def unix_seconds(c: Context):
        import pandas as pd

        csv = unix_seconds_csv(c.tmp / "unix.csv")
        _cli("fit", "sub_knn", csv, "--out", c.tmp / "unix.normalcy")
        _cli("score", c.tmp / "unix.normalcy", csv, "--out", c.tmp / "unix-scores.csv")
        first = pd.to_datetime(pd.read_csv(c.tmp / "unix-scores.csv").iloc[0, 0])
        if first != pd.Timestamp(1_700_000_000, unit="s"):
            raise SilentlyWrong(f"timestamp 1700000000 (Unix seconds) was read as {first}")
        return None

    yield Case("cli:timestamps", "Unix seconds read as seconds", unix_seconds)
