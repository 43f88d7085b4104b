"""The ``normalcy`` command line: list, fit, score, calibrate, demo, bench and docs.

Every command reads files, calls the Python API and writes files; no method logic lives
here. Errors that normalcy raises on purpose (``NormalcyError``) are printed as one red
line and exit with code 2; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import functools
import importlib
import inspect
import json
import pkgutil
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from .core.errors import InputError, NormalcyError

app = typer.Typer(
    name="normalcy",
    help="Unsupervised anomaly detection: learn what normal looks like, then score and flag.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
)

console = Console(highlight=False, soft_wrap=True)
err_console = Console(stderr=True, highlight=False)

TIME_COLUMNS = ("timestamp", "time", "date", "datetime")
TABLE_SUFFIXES = (".csv", ".parquet", ".pq")
EXIT_USER_ERROR = 2

F = TypeVar("F", bound=Callable[..., Any])


def _clean_errors(func: F) -> F:
    """Print NormalcyError as one red line and exit 2; never a traceback for user errors."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except NormalcyError as exc:
            message = " ".join(str(exc).split())
            err_console.print(f"[bold red]error:[/] [red]{escape(message)}[/]", soft_wrap=True)
            raise typer.Exit(code=EXIT_USER_ERROR) from None

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
        try:
            params[key] = json.loads(raw)
        except json.JSONDecodeError:
            params[key] = raw
    return params


def read_table(path: Path, *, time_index: bool = True):
    """A CSV or Parquet file as a pandas DataFrame.

    With ``time_index``, a first column named timestamp/time/date/datetime is parsed into
    a DatetimeIndex (and removed from the columns).
    """
    import pandas as pd

    path = Path(path)
    if not path.is_file():
        raise InputError(f"data file {path} does not exist")
    suffix = path.suffix.lower()
    try:
        if suffix == ".csv":
            frame = pd.read_csv(path)
        elif suffix in (".parquet", ".pq"):
            frame = pd.read_parquet(path)
        else:
            raise InputError(
                f"cannot read {path}: expected a .csv or .parquet file (or a folder of images "
                "for image detectors)"
            )
    except ImportError as exc:
        raise InputError(
            f"reading {path} needs pyarrow ({exc}); install it with pip install 'normalcy[parquet]'"
        ) from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, OSError) as exc:
        raise InputError(f"cannot read {path}: {exc}") from None
    if frame.shape[1] == 0:
        raise InputError(f"{path} has no columns")
    first = str(frame.columns[0])
    if time_index and first.strip().lower() in TIME_COLUMNS:
        from .core.series_input import parse_timestamps

        try:
            stamps = parse_timestamps(frame[first], name=first)
        except InputError as exc:
            raise InputError(f"{path}: {exc}") from None
        frame = frame.drop(columns=[first])
        frame.index = pd.DatetimeIndex(stamps, name=first)
    return frame


def read_data(path: Path, modality: str) -> Any:
    """What a detector of ``modality`` accepts, read from ``path``."""
    path = Path(path)
    if modality == "image":
        if path.is_file() and path.suffix.lower() in TABLE_SUFFIXES:
            raise InputError(
                f"{path} is a table, but image detectors take a folder of images (or one image)"
            )
        if not path.exists():
            raise InputError(f"image folder {path} does not exist")
        return str(path)
    if modality in ("tabular", "series"):
        if path.is_dir():
            raise InputError(
                f"{path} is a folder; {modality} detectors take a .csv or .parquet file"
            )
        return read_table(path)
    raise InputError(
        f"the command line reads tabular, series and image data; use the Python API for "
        f"{modality} detectors"
    )


def write_scores(frame: Any, out: Path) -> Path:
    """Write a scores DataFrame as CSV or Parquet, chosen by the file suffix."""
    out = Path(out)
    suffix = out.suffix.lower()
    if suffix not in TABLE_SUFFIXES:
        raise InputError(f"--out {out}: expected a file name ending in .csv or .parquet")
    out.parent.mkdir(parents=True, exist_ok=True)
    if suffix == ".csv":
        frame.to_csv(out)
    else:
        try:
            frame.to_parquet(out)
        except ImportError as exc:
            raise InputError(
                f"writing Parquet needs pyarrow ({exc}); pip install 'normalcy[parquet]' or use .csv"
            ) from None
    return out


def _threshold_text(threshold: Any) -> str:
    return f"{threshold.value:.6g} ({threshold.method} = {threshold.rate:g}, n = {threshold.n_calibration})"


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
) -> None:
    """normalcy: one API for anomaly detection on images, time series and tables."""


@app.command("list")
@_clean_errors
def list_detectors(
    modality: Annotated[
        str | None,
        typer.Option("--modality", "-m", help="Only this modality (tabular, image, series, ...)."),
    ] = None,
) -> None:
    """List the registered detectors."""
    import normalcy as nc
    from normalcy.core.registry import unavailable_families

    infos = nc.detectors(modality)
    table = Table(title=f"normalcy detectors ({len(infos)})", title_justify="left")
    for col in ("name", "modality", "paper", "year", "localises", "streaming"):
        table.add_column(col, overflow="fold", no_wrap=col != "paper")
    for info in infos:
        table.add_row(
            info.name,
            info.modality,
            escape(info.paper),
            str(info.year),
            "yes" if info.can_localise else "",
            "yes" if info.streaming else "",
        )
    console.print(table)
    for family, reason in unavailable_families().items():
        err_console.print(f"[yellow]note:[/] {family} unavailable: {escape(reason)}")


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
) -> None:
    """Fit DETECTOR on normal DATA and save the model file."""
    import normalcy as nc

    if fpr is not None and calibrate is None:
        raise InputError("--fpr needs --calibrate HOLDOUT (held-out normal data to calibrate on)")
    fpr = 0.01 if fpr is None else fpr
    det = nc.create(detector, **parse_params(param))
    train = read_data(data, det.modality)
    holdout = read_data(calibrate, det.modality) if calibrate is not None else None
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
        typer.Option("--maps-dir", help="Image detectors: write a heat-map overlay PNG per image."),
    ] = None,
) -> None:
    """Score DATA with a saved MODEL; writes one row per sample (score, and label if calibrated)."""
    import normalcy as nc

    det = nc.load(model)
    if maps_dir is not None and not (det.modality == "image" and det.info.can_localise):
        raise InputError(
            f"--maps-dir needs an image detector that localises; {det.name!r} gives no maps"
        )
    X = read_data(data, det.modality)
    with console.status(f"scoring {data} with {det.name} ..."):
        res = det.score(X)
    frame = res.to_frame()
    frame.index.name = {"image": "image", "series": frame.index.name or "step"}.get(
        det.modality, frame.index.name or "row"
    )
    path = write_scores(frame, out)
    flagged = f", {int(res.labels.sum())} flagged as anomalous" if res.labels is not None else ""
    console.print(f"scored {len(res)} samples{flagged}; wrote [bold]{escape(str(path))}[/]")
    if maps_dir is not None:
        if res.maps is None:
            raise InputError(f"{det.name!r} returned no anomaly maps; nothing to write")
        n = write_overlays(X, res, Path(maps_dir))
        console.print(f"wrote {n} heat-map overlays to [bold]{escape(str(maps_dir))}[/]")


def write_overlays(images: Any, res: Any, folder: Path) -> int:
    """One PNG per image: the image with its anomaly map on a common colour scale."""
    import numpy as np
    from PIL import Image

    from .core.image_input import as_images, resize_image
    from .viz import heatmap_overlay

    source = as_images(images)
    folder.mkdir(parents=True, exist_ok=True)
    maps = res.maps
    vmin, vmax = float(maps.min()), float(np.quantile(maps, 0.999))
    for i, name in enumerate(source.names):
        img = resize_image(source[i], maps.shape[1:3])
        picture = heatmap_overlay(img, maps[i], vmin=vmin, vmax=vmax)
        Image.fromarray(picture).save(folder / f"{Path(name).stem}.png")
    return len(source)


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
) -> None:
    """Set a saved model's threshold from held-out data and re-save it."""
    import normalcy as nc

    det = nc.load(model)
    data = read_data(holdout, det.modality)
    if fpr is None and contamination is None:
        fpr = 0.01
    threshold = det.calibrate(data, fpr=fpr, contamination=contamination)
    path = det.save(out or model)
    console.print(f"threshold: {_threshold_text(threshold)}")
    console.print(f"saved model to [bold]{escape(str(path))}[/]")


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
) -> None:
    """Generate the detectors reference page (markdown) from the registry."""
    from .docs_gen import write_detectors_page

    path, n = write_detectors_page(out)
    console.print(f"documented {n} detectors in [bold]{escape(str(path))}[/]")


if __name__ == "__main__":  # pragma: no cover
    app()
