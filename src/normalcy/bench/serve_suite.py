"""Service benchmark: latency and throughput of ``normalcy serve`` on loopback.

``normalcy bench serve [--dataset SCENARIO] [--detectors fedpca] [--root MTD] [--limit SECONDS]
[--quick]``; from Python ``run(...)``.

Set-up
    Models are fitted in a temporary folder: the tabular detector(s) (default ``fedpca``) on
    5,000 synthetic rows of 16 Gaussian features, and ``patchcore`` (default parameters,
    256 x 256 input) on 32 normal MTD training images (``--root``, default
    ``$NORMALCY_SHARED/datasets/mtd``; synthetic textures when MTD is absent). The service
    runs as ``normalcy serve FOLDER`` (uvicorn, one process, the CLI's defaults including
    ``--max-concurrency 4``) in a subprocess on a free loopback port.

Load
    A bounded async generator (one process, asyncio, keep-alive connections):
    ``concurrency`` workers each send their next request as soon as the previous one is
    answered, for ``seconds`` (after a warm-up of a few requests). Requests are built by
    httpx once and sent by a minimal HTTP/1.1 client (``raw``), because httpx itself costs
    several times the server's CPU per small request and, on a 2-core machine, would
    measure the generator; ``tabular_1`` is also run with httpx (``client=httpx``) for
    comparison. Latency is measured per request by the client (send to full response);
    throughput is answered requests / wall time. ``server_cpu_ms`` is the server process's
    CPU time (user + system, from /proc) per answered request, and
    ``server_capacity_rps`` its inverse: what one dedicated core would serve.

Scenarios
    * ``tabular_1``: one row per request (JSON rows by position), 4 workers (the service's
      max-concurrency);
    * ``tabular_1000``: 1,000 rows per request, 4 workers;
    * ``patchcore_256``: one 256 x 256 PNG (multipart), 2 workers;
    * ``overload``: 4 x max-concurrency = 16 workers on ``tabular_1000`` while a 17th
      worker polls ``/health``: counts of 200 and 429, ``/health`` latency under overload,
      and whether every answered request got the scores of its own rows (``lost`` counts
      answers that were neither a correct 200 nor a 429).

Outputs in ``out_dir``: ``serve[_<scenario>].csv`` (one row per scenario, detector and
client: requests, ok, rejected, errors, lost, throughput, p50/p99/mean latency, server CPU
per request; for overload also /health answers and p99) and ``.md`` (the same as a table,
with the machine and its load average).
"""

from __future__ import annotations

import asyncio
import io
import json
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..core.errors import InputError

SCENARIOS = ("tabular_1", "tabular_1000", "patchcore_256", "overload")
DEFAULT_DETECTORS = ("fedpca",)
N_FEATURES = 16
MAX_CONCURRENCY = 4
SECONDS = 10.0
QUICK_SECONDS = 2.0
N_TRAIN_IMAGES = 32


@dataclass
class Load:
    """What one load run saw."""

    latencies: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    errors: int = 0
    wrong: int = 0
    wall: float = 0.0
    server_cpu: float = float("nan")
    client_cpu: float = float("nan")

    def row(self) -> dict[str, Any]:
        lat = np.asarray(self.latencies) * 1000 if self.latencies else np.array([np.nan])
        ok = self.statuses.get(200, 0)
        return {
            "requests": sum(self.statuses.values()) + self.errors,
            "ok": ok,
            "rejected_429": self.statuses.get(429, 0),
            "errors": self.errors + sum(n for s, n in self.statuses.items() if s not in (200, 429)),
            "throughput_rps": round(ok / self.wall, 1) if self.wall else 0.0,
            "p50_ms": round(float(np.percentile(lat, 50)), 2),
            "p99_ms": round(float(np.percentile(lat, 99)), 2),
            "mean_ms": round(float(lat.mean()), 2),
            "server_cpu_ms": round(1000 * self.server_cpu / max(ok, 1), 3),
            "client_cpu_ms": round(1000 * self.client_cpu / max(ok, 1), 3),
            "server_capacity_rps": round(ok / self.server_cpu, 1) if self.server_cpu > 0 else "",
        }


def default_mtd_root() -> Path:
    repo = Path(__file__).resolve().parents[3]
    return Path(os.environ.get("NORMALCY_SHARED", repo.parent / "shared")) / "datasets" / "mtd"


# -- models ---------------------------------------------------------------------------------
def _fit_models(
    folder: Path, detectors: list[str], scenarios: list[str], root: Path | None, quick: bool
) -> dict[str, Any]:
    import normalcy as nc

    rng = np.random.default_rng(0)
    train = rng.normal(size=(5000, N_FEATURES))
    fitted: dict[str, Any] = {}
    if any(s.startswith("tabular") or s == "overload" for s in scenarios):
        for name in detectors:
            det = nc.create(name).fit(train)
            det.calibrate(rng.normal(size=(1000, N_FEATURES)), fpr=0.01)
            det.save(folder / f"{name}.normalcy")
            fitted[name] = det
    if "patchcore_256" in scenarios:
        images, source = _training_images(root, quick)
        params = {"max_bank": 2000} if quick else {}
        det = nc.create("patchcore", **params).fit(images)
        det.calibrate(images[:10] if len(images) >= 10 else images * 10, fpr=0.1)
        det.save(folder / "patchcore.normalcy")
        fitted["patchcore"] = det
        fitted["_image_source"] = source
    return fitted


def _training_images(root: Path | None, quick: bool) -> tuple[list[Any], str]:
    n = 8 if quick else N_TRAIN_IMAGES
    mtd = Path(root) if root is not None else default_mtd_root()
    if (mtd / "split.json").is_file():
        from ..datasets import mtd as mtd_data

        return list(mtd_data.load(mtd).train_paths[:n]), f"MTD train_good[:{n}]"
    if root is not None:
        raise InputError(f"--root {root} holds no MTD split.json; give the MTD folder or none")
    from PIL import Image

    rng = np.random.default_rng(1)
    base = rng.random((64, 64))
    images = []
    for _ in range(n):
        tile = np.clip(base + 0.05 * rng.normal(size=base.shape), 0, 1)
        images.append(Image.fromarray((tile * 255).astype(np.uint8)).resize((256, 256)))
    return images, f"synthetic textures ({n})"


def _test_png(source: str, root: Path | None) -> bytes:
    """One 256 x 256 PNG: an MTD test image when MTD is there, else a synthetic one."""
    from PIL import Image

    mtd = Path(root) if root is not None else default_mtd_root()
    if source.startswith("MTD"):
        from ..datasets import mtd as mtd_data

        im = Image.open(mtd_data.load(mtd).test_paths[-1]).convert("L")
    else:
        im = Image.fromarray((np.random.default_rng(2).random((64, 64)) * 255).astype(np.uint8))
    buf = io.BytesIO()
    im.resize((256, 256)).save(buf, format="PNG")
    return buf.getvalue()


# -- the server -----------------------------------------------------------------------------
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class _Server:
    def __init__(self, folder: Path, log: Path) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._log = log.open("w")
        args = [
            sys.executable,
            "-m",
            "normalcy.cli",
            "serve",
            str(folder),
            "--port",
            str(self.port),
        ]
        args += ["--max-concurrency", str(MAX_CONCURRENCY)]
        self.proc = subprocess.Popen(args, stdout=self._log, stderr=subprocess.STDOUT)

    def wait_ready(self, timeout: float = 180) -> None:
        import httpx

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                self._log.flush()
                tail = Path(self._log.name).read_text()[-2000:]
                raise InputError(f"normalcy serve exited at start-up:\n{tail}")
            try:
                if httpx.get(f"{self.url}/health", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        raise InputError(f"normalcy serve did not answer /health within {timeout:.0f} s")

    def cpu_seconds(self) -> float:
        """CPU time (user + system) the server process has used so far; NaN off Linux."""
        try:
            fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return float("nan")
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()


# -- the load generator ---------------------------------------------------------------------
class _RawConnection:
    """A minimal HTTP/1.1 keep-alive client for prebuilt requests (responses carry a
    Content-Length, as every answer of the service does): about a tenth of httpx's CPU per
    request, so on a small machine the generator does not starve the server it measures."""

    def __init__(self, url: str) -> None:
        host, port = url.removeprefix("http://").split(":")
        self.host, self.port = host, int(port)
        self.reader: Any = None
        self.writer: Any = None

    async def request(self, raw: bytes) -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        try:
            self.writer.write(raw)
            head = await self.reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").lower().split("\r\n")
            headers = dict(line.split(": ", 1) for line in lines[1:] if ": " in line)
            body = await self.reader.readexactly(int(headers.get("content-length", "0")))
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            self.close()
            raise
        if headers.get("connection") == "close":
            self.close()
        return int(lines[0].split()[1]), body

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


def _raw_request(url: str, path: str, kwargs: dict[str, Any]) -> bytes:
    """The bytes of an HTTP/1.1 POST built by httpx from ``kwargs`` (json=, files=)."""
    import httpx

    request = httpx.Request("POST", url + path, **kwargs)
    body = request.read()
    target = request.url.raw_path.decode()
    head = f"POST {target} HTTP/1.1\r\n" + "".join(
        f"{k}: {v}\r\n" for k, v in request.headers.items()
    )
    return head.encode() + b"\r\n" + body


async def _load(
    server: Any,
    path: str,
    variants: list[dict[str, Any]],
    concurrency: int,
    seconds: float,
    check: Any = None,
    client: str = "raw",
    warmup: int = 3,
) -> Load:
    """``concurrency`` workers, each sending request ``i`` (httpx kwargs ``variants[i % n]``)
    back to back for ``seconds`` with the ``raw`` or the ``httpx`` client;
    ``check(i, body)`` verifies an answered request."""
    import httpx

    result = Load()
    limits = httpx.Limits(max_connections=concurrency + 1, max_keepalive_connections=concurrency)
    raws = [_raw_request(server.url, path, v) for v in variants]
    async with httpx.AsyncClient(base_url=server.url, timeout=120, limits=limits) as http:

        async def send(i: int, conn: _RawConnection) -> tuple[int, bytes]:
            if client == "raw":
                return await conn.request(raws[i % len(raws)])
            response = await http.post(path, **variants[i % len(variants)])
            return response.status_code, response.content

        warm = _RawConnection(server.url)
        for i in range(warmup):
            await send(i, warm)
        warm.close()
        counter = iter(range(10**9))
        start = time.perf_counter()
        stop_at = start + seconds
        cpu0, server0 = time.process_time(), server.cpu_seconds()

        async def worker() -> None:
            conn = _RawConnection(server.url)
            while time.perf_counter() < stop_at:
                i = next(counter)
                t0 = time.perf_counter()
                try:
                    status, content = await send(i, conn)
                except (httpx.HTTPError, OSError, asyncio.IncompleteReadError):
                    result.errors += 1
                    continue
                result.latencies.append(time.perf_counter() - t0)
                result.statuses[status] = result.statuses.get(status, 0) + 1
                if status == 200 and check is not None and not check(i, content):
                    result.wrong += 1
            conn.close()

        await asyncio.gather(*(worker() for _ in range(concurrency)))
        result.wall = time.perf_counter() - start
        result.client_cpu = time.process_time() - cpu0  # includes a /health poller, if any
        result.server_cpu = server.cpu_seconds() - server0
    return result


async def _health_during(url: str, until: asyncio.Event) -> Load:
    result = Load()
    conn = _RawConnection(url)
    raw = f"GET /health HTTP/1.1\r\nHost: {url.removeprefix('http://')}\r\n\r\n".encode()
    start = time.perf_counter()
    while not until.is_set():
        t0 = time.perf_counter()
        try:
            status, _ = await conn.request(raw)
        except (OSError, asyncio.IncompleteReadError):
            result.errors += 1
            continue
        result.latencies.append(time.perf_counter() - t0)
        result.statuses[status] = result.statuses.get(status, 0) + 1
        await asyncio.sleep(0.02)
    result.wall = time.perf_counter() - start
    conn.close()
    return result


async def _overload(server: Any, path: str, variants: list, check: Any, seconds: float) -> Any:
    done = asyncio.Event()
    health_task = asyncio.create_task(_health_during(server.url, done))
    load = await _load(server, path, variants, 4 * MAX_CONCURRENCY, seconds, check)
    done.set()
    return load, await health_task


# -- the scenarios --------------------------------------------------------------------------
def _table_requests(n_rows: int, n_variants: int = 64) -> list[dict[str, Any]]:
    rng = np.random.default_rng(n_rows)
    return [
        {"json": {"data": rng.normal(size=(n_rows, N_FEATURES)).round(6).tolist()}}
        for _ in range(n_variants)
    ]


def _checker(det: Any, requests: list[dict[str, Any]]) -> Any:
    """A check that an answer holds exactly the scores of its own rows."""
    expected = [det.score(np.asarray(r["json"]["data"])).scores.tolist() for r in requests]

    def check(i: int, content: bytes) -> bool:
        return json.loads(content)["scores"] == expected[i % len(expected)]

    return check


def _scenario(
    scenario: str,
    name: str,
    fitted: dict[str, Any],
    server: _Server,
    seconds: float,
    png: bytes,
    client: str = "raw",
) -> dict[str, Any]:
    row: dict[str, Any] = {"scenario": scenario, "detector": name, "client": client}
    if scenario == "patchcore_256":
        path = "/models/patchcore/score"
        variants = [{"files": {"files": ("tile.png", png, "image/png")}}]
        load = asyncio.run(_load(server, path, variants, 2, seconds, client=client))
        row.update(rows_per_request=1, concurrency=2, **load.row())
        row["lost"] = load.wrong + row["errors"]
        return row
    n_rows = 1 if scenario == "tabular_1" else 1000
    requests = _table_requests(n_rows)
    check = _checker(fitted[name], requests)
    path = f"/models/{name}/score"
    if scenario == "overload":
        load, health = asyncio.run(_overload(server, path, requests, check, seconds))
        row.update(rows_per_request=n_rows, concurrency=4 * MAX_CONCURRENCY, **load.row())
        row["health_ok"] = health.statuses.get(200, 0)
        row["health_failed"] = health.errors + sum(
            n for s, n in health.statuses.items() if s != 200
        )
        row["health_p99_ms"] = health.row()["p99_ms"]
    else:
        load = asyncio.run(
            _load(server, path, requests, MAX_CONCURRENCY, seconds, check, client=client)
        )
        row.update(rows_per_request=n_rows, concurrency=MAX_CONCURRENCY, **load.row())
    row["lost"] = load.wrong + row["errors"]
    return row


def run(
    dataset: str | None = None,
    root: Path | None = None,
    out_dir: Path = Path("benchmarks/results"),
    detectors: list[str] | None = None,
    limit: int | None = None,
    quick: bool = False,
) -> Path:
    """Run the scenarios (all, or ``dataset``) for ``detectors`` (tabular names; default
    fedpca) for ``limit`` seconds each (default 10, quick 2); returns the CSV path."""
    import pandas as pd

    if dataset is not None and dataset not in SCENARIOS:
        raise InputError(f"unknown serve scenario {dataset!r}; expected one of {SCENARIOS}")
    scenarios = [dataset] if dataset else list(SCENARIOS)
    names = list(detectors or DEFAULT_DETECTORS)
    seconds = float(limit) if limit else (QUICK_SECONDS if quick else SECONDS)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    load_before = _loadavg()
    tmp = Path(tempfile.mkdtemp(prefix="normalcy-bench-serve-"))
    rows: list[dict[str, Any]] = []
    try:
        fitted = _fit_models(tmp, names, scenarios, root, quick)
        png = _test_png(fitted.get("_image_source", ""), root) if "patchcore" in fitted else b""
        server = _Server(tmp, tmp / "server.log")
        try:
            server.wait_ready()
            for scenario in scenarios:
                for name in ["patchcore"] if scenario == "patchcore_256" else names:
                    clients = ("raw", "httpx") if scenario == "tabular_1" else ("raw",)
                    for client in clients:
                        row = _scenario(scenario, name, fitted, server, seconds, png, client)
                        rows.append(row)
                        print(json.dumps(row), flush=True)
        finally:
            server.stop()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    frame = pd.DataFrame(rows)
    stem = f"serve_{dataset}" if dataset else "serve"
    csv = out_dir / f"{stem}.csv"
    frame.to_csv(csv, index=False)
    source = fitted.get("_image_source", "none")
    busy = f"load average {load_before} before, {_loadavg()} after"
    (out_dir / f"{stem}.md").write_text(_markdown(frame, seconds, source, busy) + "\n")
    return csv


def _loadavg() -> str:
    """The 1-minute load average (other work sharing the machine), or "n/a"."""
    try:
        return f"{os.getloadavg()[0]:.1f}"
    except OSError:
        return "n/a"


def machine() -> str:
    return (
        f"{platform.machine()}, {os.cpu_count()} CPU cores visible, "
        f"{platform.python_implementation()} {platform.python_version()}, {platform.system()}"
    )


def _markdown(frame: Any, seconds: float, image_source: str, busy: str) -> str:
    cols = [
        c
        for c in (
            "scenario",
            "detector",
            "client",
            "rows_per_request",
            "concurrency",
            "requests",
            "ok",
            "rejected_429",
            "lost",
            "throughput_rps",
            "p50_ms",
            "p99_ms",
            "server_cpu_ms",
            "server_capacity_rps",
            "health_p99_ms",
        )
        if c in frame.columns
    ]
    lines = [
        "| " + " | ".join(cols) + " |",
        "|" + "|".join("---" for _ in cols) + "|",
    ]
    for _, r in frame.iterrows():
        cells = ["" if isinstance(v, float) and np.isnan(v) else str(v) for v in r[cols].tolist()]
        lines.append("| " + " | ".join(cells) + " |")
    return (
        f"Service benchmark (`normalcy bench serve`), {seconds:g} s per scenario, "
        f"loopback, server and load generator on one machine ({machine()}; {busy})"
        + (f"; patchcore fitted on {image_source}" if image_source != "none" else "")
        + ".\n\n"
        + "\n".join(lines)
    )
