"""The ``normalcy`` command line: list, fit, score, calibrate, info, serve, demo, bench and
docs.

Every command reads files, calls the Python API and writes files; no method logic lives
here, and no data type is known by name: how a path is read for a modality (and how its
maps are written) comes from that modality's ``Modality`` description.

Errors are handled in one place, ``_clean_errors``: every expected failure (a
``NormalcyError``, a file that cannot be read or written, a table that does not parse, a
bad ``--param``) prints one red line and exits with code 2. Anything else is a bug: a
short message with a hint, exit code 1, and the traceback only with ``--debug`` or
``NORMALCY_DEBUG=1``.
"""

from __future__ import annotations

import functools
import importlib
import inspect
import json
import os
import pkgutil
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from .core.errors import InputError, NormalcyError
from .table_io import TABLE_SUFFIXES, TIME_COLUMNS, read_table, write_table

app = typer.Typer(
    name="normalcy",
    help="Unsupervised anomaly detection: learn what normal looks like, then score and flag.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
)

console = Console(highlight=False, soft_wrap=True)
err_console = Console(stderr=True, highlight=False)

__all__ = ["TABLE_SUFFIXES", "TIME_COLUMNS", "app", "parse_params", "read_data", "read_table"]
EXIT_USER_ERROR = 2
EXIT_BUG = 1
_DEBUG = {"on": False}

F = TypeVar("F", bound=Callable[..., Any])


def _debug() -> bool:
    return _DEBUG["on"] or os.environ.get("NORMALCY_DEBUG", "").strip() not in ("", "0")


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _fail(message: str) -> typer.Exit:
    err_console.print(f"[bold red]error:[/] [red]{escape(_one_line(message))}[/]", soft_wrap=True)
    return typer.Exit(code=EXIT_USER_ERROR)


def _expected_error(exc: BaseException) -> str | None:
    """The one-line message for a failure the user can fix, or None for a bug."""
    if isinstance(exc, NormalcyError):
        return str(exc)
    if isinstance(exc, OSError):  # unwritable --out, unreadable data, disk full, ...
        what = exc.strerror or str(exc)
        where = f": {exc.filename}" if exc.filename else ""
        return f"{what}{where}"
    if isinstance(exc, json.JSONDecodeError):
        return f"invalid JSON: {exc}"
    module = type(exc).__module__ or ""
    if module.startswith(("pyarrow", "pandas.errors")):  # a file that is not what it says
        return f"cannot read the data: {exc}"
    if isinstance(exc, (UnicodeDecodeError, MemoryError)):
        return f"cannot read the data: {exc}"
    return None


def _clean_errors(func: F) -> F:
    """Every expected failure → one red line and exit code 2; a bug → a short message with
    a hint and exit code 1 (the traceback only with ``--debug`` or ``NORMALCY_DEBUG=1``)."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except (typer.Exit, typer.Abort, typer.exceptions.TyperException, KeyboardInterrupt):
            raise
        except Exception as exc:
            message = _expected_error(exc)
            if message is not None:
                if _debug():
                    raise
                raise _fail(message) from None
            if _debug():
                raise
            err_console.print(
                f"[bold red]error:[/] [red]unexpected {type(exc).__name__}: "
                f"{escape(_one_line(str(exc))[:300])}[/]\n"
                "[yellow]this is a bug in normalcy; please report it with the command you ran "
                "(rerun with --debug or NORMALCY_DEBUG=1 to see the traceback)[/]",
                soft_wrap=True,
            )
            raise typer.Exit(code=EXIT_BUG) from None

    return wrapper  # type: ignore[return-value]


# ---------------------------------------------------------------------------------------
# reading and writing files
# ---------------------------------------------------------------------------------------
def parse_params(items: list[str] | None) -> dict[str, Any]:
    """``["k=5", "rate=0.1", "flag=true", "name=abc"]`` → {k: 5, rate: 0.1, flag: True, ...}.

    Values are parsed as JSON when they are valid JSON, else kept as strings.
    """
    params: dict[str, Any] = {}
    for item in items or []:
        key, sep, raw = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise InputError(f"--param {item!r} is not of the form key=value (e.g. n_neighbors=5)")
        if key in params:
            raise InputError(f"--param {key} is given twice")
        try:
            params[key] = json.loads(raw)
        except (json.JSONDecodeError, RecursionError, ValueError):
            params[key] = raw
    return params


def _modality(name: str):
    from .core.modality import get_modality

    return get_modality(name)


def read_data(
    path: Path, modality: str, recursive: bool = False, pattern: str | None = None
) -> Any:
    """What a detector of ``modality`` accepts, read from ``path`` by its modality's reader;
    ``recursive``/``pattern`` (``--recursive``/``--glob``) go to readers that accept them."""
    description = _modality(modality)
    if description.reader is None:
        raise InputError(
            f"the command line cannot read {modality} data; use the Python API for "
            f"{modality} detectors"
        )
    reader = description.resolve("reader")
    if not recursive and pattern is None:
        return reader(Path(path))
    if not _accepts(reader, "recursive", "pattern"):
        raise InputError(f"--recursive and --glob select image files; {modality} data has none")
    return reader(Path(path), recursive=recursive, pattern=pattern)


def _accepts(fn: Any, *names: str) -> bool:
    """Whether ``fn`` takes every keyword of ``names``."""
    import inspect

    params = inspect.signature(fn).parameters
    return all(n in params for n in names)


RECURSIVE_HELP = "Image folders: also read the images in its subfolders (names relative to it)."
GLOB_HELP = "Image folders: only files whose path below the folder matches, e.g. '**/*.png'."


def write_scores(frame: Any, out: Path) -> Path:
    """Write a scores DataFrame as CSV or Parquet, chosen by the file suffix."""
    return write_table(frame, out)


def _writes_maps(det: Any) -> bool:
    """Whether ``normalcy score --maps-dir`` can write maps for this detector."""
    return _modality(det.modality).maps_writer is not None and det.info.can_localise


def _index_label(modality: str, current: str | None) -> str:
    label = _modality(modality).index_label
    return current or label if label in ("row", "step") else label


def _threshold_text(threshold: Any) -> str:
    text = f"{threshold.value:.6g} ({threshold.method} = {threshold.rate:g}, n = {threshold.n_calibration})"
    pixel = getattr(threshold, "pixel_value", None)
    return text if pixel is None else f"{text}; pixel threshold {pixel:.6g}"


def check_out(out: Path, force: bool, what: str) -> None:
    """Refuse a device, pipe or folder as ``--out``, and an existing file without --force."""
    from .core.persistence import check_destination

    check_destination(out, what)
    if out.exists() and not force:
        raise InputError(f"--out {out} already exists; pass --force to overwrite it")


FORCE_HELP = "Overwrite --out if it exists."


# ---------------------------------------------------------------------------------------
# commands
# ---------------------------------------------------------------------------------------
def _version(value: bool) -> None:
    if value:
        from . import __version__

        console.print(f"normalcy {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version.")
    ] = False,
    debug: Annotated[
        bool,
        typer.Option("--debug", help="Show tracebacks of unexpected errors (or NORMALCY_DEBUG=1)."),
    ] = False,
) -> None:
    """normalcy: one API for anomaly detection on images, time series and tables."""
    _DEBUG["on"] = debug


@app.command("list")
@_clean_errors
def list_detectors(
    modality: Annotated[
        str | None,
        typer.Option("--modality", "-m", help="Only this modality (tabular, image, series, ...)."),
    ] = None,
) -> None:
    """List the registered detectors (from the generated index: imports no detector)."""
    from .core.modality import modalities
    from .core.registry import indexed_detectors

    infos = indexed_detectors(modality)
    table = Table(title=f"normalcy detectors ({len(infos)})", title_justify="left")
    for col in ("name", "modality", "paper", "year", "localises", "streaming", "aliases"):
        table.add_column(col, overflow="fold", no_wrap=col != "paper")
    for info in infos:
        table.add_row(
            info.name,
            info.modality,
            escape(info.paper),
            str(info.year),
            "yes" if info.can_localise else "",
            "yes" if info.streaming else "",
            ", ".join(info.aliases),
        )
    console.print(table)
    for description in modalities():
        missing = description.missing_requirements()
        if missing and (modality is None or modality == description.name):
            err_console.print(
                f"[yellow]note:[/] {description.name} detectors need {', '.join(missing)}: "
                f"{escape(description.install_hint())}"
            )


@app.command()
@_clean_errors
def fit(
    detector: Annotated[
        str, typer.Argument(help="Registered detector name (see `normalcy list`).")
    ],
    data: Annotated[
        Path, typer.Argument(help="Normal data: CSV/Parquet file, or a folder of images.")
    ],
    out: Annotated[Path, typer.Option("--out", "-o", help="Model file to write (*.normalcy).")],
    param: Annotated[
        list[str] | None,
        typer.Option("--param", "-p", help="Detector parameter key=value (value parsed as JSON)."),
    ] = None,
    calibrate: Annotated[
        Path | None, typer.Option("--calibrate", help="Held-out normal data to set the threshold.")
    ] = None,
    fpr: Annotated[
        float | None, typer.Option(help="Target false-positive rate for --calibrate [0.01].")
    ] = None,
    force: Annotated[bool, typer.Option("--force", help=FORCE_HELP)] = False,
    recursive: Annotated[bool, typer.Option("--recursive", help=RECURSIVE_HELP)] = False,
    glob: Annotated[str | None, typer.Option("--glob", help=GLOB_HELP)] = None,
) -> None:
    """Fit DETECTOR on normal DATA and save the model file (signed if $NORMALCY_MODEL_KEY)."""
    import normalcy as nc

    check_out(out, force, "a model")
    if fpr is not None and calibrate is None:
        raise InputError("--fpr needs --calibrate HOLDOUT (held-out normal data to calibrate on)")
    fpr = 0.01 if fpr is None else fpr
    det = nc.create(detector, **parse_params(param))
    train = read_data(data, det.modality, recursive, glob)
    holdout = read_data(calibrate, det.modality, recursive, glob) if calibrate is not None else None
    with console.status(f"fitting {detector} on {data} ..."):
        det.fit(train)
    console.print(f"fitted [bold]{detector}[/] on {escape(str(data))}")
    if holdout is not None:
        threshold = det.calibrate(holdout, fpr=fpr)
        console.print(f"threshold: {_threshold_text(threshold)}")
    path = det.save(out)
    console.print(f"saved model to [bold]{escape(str(path))}[/]")


@app.command()
@_clean_errors
def score(
    model: Annotated[Path, typer.Argument(help="Model file written by `normalcy fit`.")],
    data: Annotated[
        Path, typer.Argument(help="Data to score: CSV/Parquet, or a folder of images.")
    ],
    out: Annotated[Path, typer.Option("--out", "-o", help="Scores file (.csv or .parquet).")],
    maps_dir: Annotated[
        Path | None,
        typer.Option(
            "--maps-dir",
            help="Image detectors: write a heat-map overlay PNG (with a colour bar) per image.",
        ),
    ] = None,
    maps_out: Annotated[
        Path | None,
        typer.Option("--maps-out", help="Image detectors: write each raw float32 map here."),
    ] = None,
    map_format: Annotated[
        str, typer.Option("--map-format", help="Format of --maps-out: npy or tiff (float32).")
    ] = "npy",
    masks: Annotated[
        bool,
        typer.Option(
            "--masks",
            help="Also write binary PNG masks (map > the calibrated pixel threshold) into "
            "--maps-out (or --maps-dir).",
        ),
    ] = False,
    recursive: Annotated[bool, typer.Option("--recursive", help=RECURSIVE_HELP)] = False,
    glob: Annotated[str | None, typer.Option("--glob", help=GLOB_HELP)] = None,
    force: Annotated[bool, typer.Option("--force", help=FORCE_HELP)] = False,
    allow_download: Annotated[
        bool,
        typer.Option("--allow-download", help="Let the model fetch pretrained weights it names."),
    ] = False,
    ray: Annotated[
        str | None,
        typer.Option(
            "--ray",
            help="Score on a Ray cluster: 'local' (a cluster on this machine), 'auto', "
            "HOST:PORT or ray://HOST:PORT (image folders and Parquet data; no --maps-dir).",
        ),
    ] = None,
) -> None:
    """Score DATA with a saved MODEL; writes one row per sample (score, and label if calibrated)."""
    import normalcy as nc

    check_out(out, force, "scores")
    if map_format not in ("npy", "tiff"):
        raise InputError(f"--map-format must be npy or tiff, got {map_format!r}")
    if masks and maps_out is None and maps_dir is None:
        raise InputError("--masks needs --maps-out DIR (or --maps-dir DIR) to write them to")
    wants_maps = maps_dir is not None or maps_out is not None
    if ray is not None:
        if wants_maps:
            raise InputError(
                "--maps-dir/--maps-out cannot be combined with --ray; score locally for maps"
            )
        if recursive or glob is not None:
            raise InputError("--recursive/--glob cannot be combined with --ray yet")
        _score_on_ray(model, data, out, ray, allow_download)
        return
    det = nc.load(model, allow_download=allow_download)
    if wants_maps and not _writes_maps(det):
        raise InputError(
            f"--maps-dir/--maps-out need a detector that localises; {det.name!r} gives no maps"
        )
    pixel = getattr(det.threshold, "pixel_value", None)
    if masks and pixel is None:
        raise InputError(
            "--masks needs a pixel threshold: calibrate the model on held-out normal images "
            "with an fpr (normalcy fit --calibrate HOLDOUT, or normalcy calibrate MODEL HOLDOUT)"
        )
    X = read_data(data, det.modality, recursive, glob)
    with console.status(f"scoring {data} with {det.name} ..."):
        res = det.score(X)
    frame = res.to_frame()
    frame.index.name = _index_label(det.modality, frame.index.name)
    path = write_scores(frame, out)
    flagged = f", {int(res.labels.sum())} flagged as anomalous" if res.labels is not None else ""
    console.print(f"scored {len(res)} samples{flagged}; wrote [bold]{escape(str(path))}[/]")
    if wants_maps and res.maps is None:
        raise InputError(f"{det.name!r} returned no anomaly maps; nothing to write")
    if maps_dir is not None:
        n = write_overlays(X, res, Path(maps_dir), det.modality, pixel_threshold=pixel)
        console.print(f"wrote {n} heat-map overlays to [bold]{escape(str(maps_dir))}[/]")
    if maps_out is not None:
        n = write_overlays(X, res, Path(maps_out), det.modality, kind="raw", map_format=map_format)
        console.print(f"wrote {n} raw {map_format} maps to [bold]{escape(str(maps_out))}[/]")
    if masks:
        where = maps_out if maps_out is not None else maps_dir
        n = write_overlays(X, res, Path(where), det.modality, kind="mask", pixel_threshold=pixel)
        console.print(f"wrote {n} masks (map > {pixel:.6g}) to [bold]{escape(str(where))}[/]")


def _score_on_ray(model: Path, data: Path, out: Path, address: str, allow_download: bool) -> None:
    """``normalcy score --ray``: the scores of ``nc.distributed.score``, written as locally."""
    import normalcy as nc

    from .core.persistence import describe_model_file

    modality = describe_model_file(model)["modality"]
    if modality == "series":
        raise InputError(
            "--ray scores image folders and Parquet data; score many series from Python"
        )
    with console.status(f"scoring {data} on Ray ({address}) ..."):
        res = nc.distributed.score(model, data, address=address, allow_download=allow_download)
    frame = res.to_frame()
    frame.index.name = _index_label(modality, frame.index.name)
    path = write_scores(frame, out)
    flagged = f", {int(res.labels.sum())} flagged as anomalous" if res.labels is not None else ""
    console.print(f"scored {len(res)} samples on Ray{flagged}; wrote [bold]{escape(str(path))}[/]")


def write_overlays(
    images: Any, res: Any, folder: Path, modality: str = "image", **options: Any
) -> int:
    """Anomaly maps of ``res`` written to ``folder`` by the modality's maps writer;
    ``options`` (``kind``, ``map_format``, ``pixel_threshold``) go to writers that take them
    (a writer without ``kind`` writes overlays only)."""
    writer = _modality(modality).resolve("maps_writer")
    kind = options.get("kind", "overlay")
    if kind != "overlay" and not _accepts(writer, "kind"):
        raise InputError(f"{modality} maps can only be written as overlays (--maps-dir)")
    options = {k: v for k, v in options.items() if _accepts(writer, k)}
    return writer(images, res, Path(folder), **options)


@app.command()
@_clean_errors
def calibrate(
    model: Annotated[Path, typer.Argument(help="Model file to calibrate (re-saved in place).")],
    holdout: Annotated[Path, typer.Argument(help="Held-out normal data (or unlabelled data).")],
    fpr: Annotated[
        float | None, typer.Option(help="Target false-positive rate on normal hold-out data.")
    ] = None,
    contamination: Annotated[
        float | None, typer.Option(help="Fraction of anomalies in unlabelled data.")
    ] = None,
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Write to this file instead of MODEL.")
    ] = None,
    force: Annotated[bool, typer.Option("--force", help=FORCE_HELP)] = False,
    allow_download: Annotated[
        bool,
        typer.Option("--allow-download", help="Let the model fetch pretrained weights it names."),
    ] = False,
    recursive: Annotated[bool, typer.Option("--recursive", help=RECURSIVE_HELP)] = False,
    glob: Annotated[str | None, typer.Option("--glob", help=GLOB_HELP)] = None,
) -> None:
    """Set a saved model's threshold from held-out data and re-save it."""
    import normalcy as nc

    if out is not None and out.resolve() != model.resolve():
        check_out(out, force, "a model")
    det = nc.load(model, allow_download=allow_download)
    data = read_data(holdout, det.modality, recursive, glob)
    if fpr is None and contamination is None:
        fpr = 0.01
    threshold = det.calibrate(data, fpr=fpr, contamination=contamination)
    path = det.save(out or model)
    console.print(f"threshold: {_threshold_text(threshold)}")
    console.print(f"saved model to [bold]{escape(str(path))}[/]")


@app.command()
@_clean_errors
def info(
    model: Annotated[Path, typer.Argument(help="Model file written by `normalcy fit`.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """Show what a model file holds, verified as `score` verifies it, without building it."""
    from .core.persistence import describe_model_file

    desc = describe_model_file(model)
    if as_json:
        console.print_json(json.dumps(desc))
        return
    table = Table(title=f"model file {escape(str(model))}", title_justify="left", show_header=False)
    table.add_column("field", style="bold")
    table.add_column("value", overflow="fold")
    threshold = desc["threshold"]
    rows = {
        "detector": desc["detector"] + ("" if desc["detector_available"] else " (not installed)"),
        "modality": desc["modality"],
        "params": json.dumps(desc["params"], sort_keys=True),
        "fitted": "yes" if desc["fitted"] else "no",
        "input spec": json.dumps(desc["input_spec"], sort_keys=True),
        "threshold": (
            f"{threshold['value']:.6g} ({threshold['method']} = {threshold['rate']:g}, "
            f"n = {threshold['n_calibration']})"
            if threshold
            else "none (not calibrated)"
        ),
        "signature": desc["signature"],
        "written by": f"normalcy {desc['library_version']}, format {desc['format_version']}",
        "created (UTC)": desc["created_utc"],
        "state keys": ", ".join(desc["state_keys"]) or "-",
    }
    for key, value in rows.items():
        table.add_row(key, escape(str(value)))
    for name, arr in desc["arrays"].items():
        table.add_row(f"array {escape(name)}", f"{arr['dtype']} {tuple(arr['shape'])}")
    console.print(table)


@app.command()
@_clean_errors
def demo(
    out: Annotated[Path, typer.Option("--out", "-o", help="Report folder.")] = Path("demo-report"),
    quick: Annotated[bool, typer.Option("--quick", help="Smaller data, for a fast check.")] = False,
    modality: Annotated[
        list[str] | None, typer.Option("--modality", "-m", help="Only these modalities.")
    ] = None,
    detectors: Annotated[
        str | None, typer.Option("--detectors", help="Comma-separated detector names.")
    ] = None,
) -> None:
    """Run detectors of every modality on built-in synthetic data and write an HTML report."""
    from .demo import run_demo

    names = [d.strip() for d in detectors.split(",") if d.strip()] if detectors else None
    run_demo(out, quick=quick, modalities=modality or None, detectors=names, console=console)


@app.command()
@_clean_errors
def export(
    model: Annotated[Path, typer.Argument(help="Model file to export.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="The ONNX file to write.")],
    format: Annotated[str, typer.Option("--format", "-f", help="Export format.")] = "onnx",
    force: Annotated[bool, typer.Option("--force", help=FORCE_HELP)] = False,
) -> None:
    """Export a saved model to ONNX: the graph computes normalcy's score, and the file
    carries the calibrated threshold (see docs/export.md)."""
    import normalcy as nc
    from normalcy.export import export as export_model

    check_out(out, force, "an exported model")
    det = nc.load(model)
    path = export_model(det, out, format=format)
    console.print(f"exported {det.name} to [bold]{escape(str(path))}[/] ({format})")
    if det.threshold is not None:
        console.print(f"threshold: {_threshold_text(det.threshold)}")


@app.command()
@_clean_errors
def serve(
    models: Annotated[
        Path, typer.Argument(help="A model file, or a folder of *.normalcy model files.")
    ],
    host: Annotated[str, typer.Option(help="Address to bind (non-loopback needs a token).")] = (
        "127.0.0.1"
    ),
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    token: Annotated[
        str | None,
        typer.Option(
            envvar="NORMALCY_SERVE_TOKEN",
            help="Bearer token required on every endpoint but /health [$NORMALCY_SERVE_TOKEN].",
        ),
    ] = None,
    max_request_mb: Annotated[
        float, typer.Option(help="Refuse request bodies larger than this (413).")
    ] = 32,
    max_concurrency: Annotated[
        int, typer.Option(help="Scoring requests run at once; more get 429.")
    ] = 4,
    max_streams: Annotated[
        int, typer.Option(help="Streams with state kept at once (least recently used evicted).")
    ] = 64,
    stream_idle_s: Annotated[
        float, typer.Option(help="Drop a stream's state after this many idle seconds.")
    ] = 600,
) -> None:
    """Serve saved models over HTTP (REST; OpenAPI docs at /docs). See docs/serve.md."""
    from .serve.settings import MB, ServeSettings

    settings = ServeSettings(
        host=host,
        port=port,
        token=token or None,
        max_request_bytes=int(max_request_mb * MB),
        max_concurrency=max_concurrency,
        max_streams=max_streams,
        stream_idle_seconds=stream_idle_s,
    )
    try:
        import uvicorn  # noqa: F401

        from .serve.app import create_app, run_server
    except ImportError as exc:
        raise InputError(
            f"normalcy serve needs {exc.name}; install it with pip install 'normalcy[serve]'"
        ) from None
    import logging

    # one JSON line per request: skip what the lines do not show (the logging docs'
    # "Optimization" advice): caller lookup, thread and process names
    logging._srcfile = None
    logging.logThreads = logging.logProcesses = logging.logMultiprocessing = False
    log = logging.getLogger("normalcy.serve")
    if not log.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(message)s"))
        log.addHandler(handler)
        log.setLevel(logging.INFO)
    api = create_app(
        models,
        token=settings.token,
        max_request_bytes=settings.max_request_bytes,
        max_concurrency=settings.max_concurrency,
        max_streams=settings.max_streams,
        stream_idle_seconds=settings.stream_idle_seconds,
    )
    console.print(
        f"serving {len(api.state.models)} model(s) on http://{escape(host)}:{port} "
        f"({'token required' if settings.token else 'no token: loopback only'})"
    )
    run_server(api, settings)


def available_suites() -> list[str]:
    """Benchmark suites: modules named ``<suite>_suite`` in ``normalcy.bench``."""
    from . import bench

    return sorted(
        m.name[: -len("_suite")]
        for m in pkgutil.iter_modules(bench.__path__)
        if m.name.endswith("_suite")
    )


@app.command()
@_clean_errors
def bench(
    suite: Annotated[
        str, typer.Argument(help="Benchmark suite (e.g. metrics, image, series, tabular).")
    ],
    dataset: Annotated[
        str | None, typer.Option("--dataset", "-d", help="One data set of the suite.")
    ] = None,
    root: Annotated[Path | None, typer.Option(help="Where the data sets live.")] = None,
    out: Annotated[Path, typer.Option("--out", "-o", help="Results folder.")] = Path(
        "benchmarks/results"
    ),
    detectors: Annotated[
        str | None, typer.Option("--detectors", help="Comma-separated detector names.")
    ] = None,
    limit: Annotated[int | None, typer.Option(help="At most this many items per data set.")] = None,
    quick: Annotated[
        bool, typer.Option("--quick", help="Small settings for a fast check.")
    ] = False,
    nab_results: Annotated[
        Path | None,
        typer.Option(
            "--nab-results",
            help="series suite, NAB: a numenta/NAB checkout (or its results/) to re-score.",
        ),
    ] = None,
    param: Annotated[
        list[str] | None,
        typer.Option(
            "--param",
            "-p",
            help="image and series suites: parameter key=value (JSON) for every detector; "
            "write pilots to their own --out folder.",
        ),
    ] = None,
) -> None:
    """Run a benchmark suite and write its results table."""
    suites = available_suites()
    if suite not in suites:
        raise InputError(
            f"unknown benchmark suite {suite!r}; available suites: {', '.join(suites) or 'none'}"
        )
    module = importlib.import_module(f"normalcy.bench.{suite}_suite")
    names = [d.strip() for d in detectors.split(",") if d.strip()] if detectors else None
    extra: dict[str, Any] = {"nab_results": nab_results} if nab_results is not None else {}
    if param:
        if "params" not in inspect.signature(module.run).parameters:
            raise InputError(f"the {suite} suite runs default parameters only; drop --param")
        extra["params"] = parse_params(param)
    path = module.run(
        dataset=dataset, root=root, out_dir=out, detectors=names, limit=limit, quick=quick, **extra
    )
    console.print(f"results written to [bold]{escape(str(path))}[/]")
    _print_csv(Path(path))


def _print_csv(path: Path, max_rows: int = 40) -> None:
    import pandas as pd

    if not path.is_file() or path.suffix != ".csv":
        return
    frame = pd.read_csv(path)
    table = Table(title=path.name, title_justify="left")
    for col in frame.columns:
        table.add_column(str(col), justify="right" if frame[col].dtype.kind in "fi" else "left")
    for _, row in frame.head(max_rows).iterrows():
        table.add_row(
            *[f"{v:.4f}" if isinstance(v, float) else escape(str(v)) for v in row.tolist()]
        )
    console.print(table)
    if len(frame) > max_rows:
        console.print(f"... {len(frame) - max_rows} more rows in {escape(str(path))}")


@app.command()
@_clean_errors
def docs(
    out: Annotated[Path, typer.Option("--out", "-o", help="Markdown file to write.")] = Path(
        "docs/detectors.md"
    ),
    index: Annotated[
        Path | None,
        typer.Option(help="Where to write the detector index [inside the package]."),
    ] = None,
) -> None:
    """Generate the detectors reference page (markdown) and the detector index from the
    registry."""
    from .core.index import write_index
    from .docs_gen import write_detectors_page

    path, n = write_detectors_page(out)
    index = write_index(index)
    console.print(f"documented {n} detectors in [bold]{escape(str(path))}[/]")
    console.print(f"wrote the detector index [bold]{escape(str(index))}[/]")


if __name__ == "__main__":  # pragma: no cover
    app()
