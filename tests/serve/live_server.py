"""A real ``normalcy serve`` (uvicorn on loopback) in a subprocess, for the robustness tests.

Run as a script it serves a model folder exactly as ``normalcy serve`` does (``run_server``),
optionally slowing every scoring call by ``--delay`` seconds (a stand-in for a slow model)
and touching ``--started-file`` when a scoring call begins. Imported, ``LiveServer`` starts
it on a free port, waits for ``/health`` and stops it with SIGTERM.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LiveServer:
    """``with LiveServer(folder, delay=0.2, max_concurrency=2) as server: server.url``"""

    def __init__(self, folder: Path, **options: float | int | str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        args = [sys.executable, __file__, str(folder), "--port", str(self.port)]
        for key, value in options.items():
            args += [f"--{key.replace('_', '-')}", str(value)]
        path = [str(REPO / "src"), os.environ.get("PYTHONPATH", "")]
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in path if p)}
        self.proc = subprocess.Popen(args, env=env, stderr=subprocess.PIPE, text=True)

    def __enter__(self) -> LiveServer:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited at start-up: {self.proc.stderr.read()[-2000:]}")
            try:
                if httpx.get(f"{self.url}/health", timeout=1).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError("server did not answer /health within 120 s")

    def terminate(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)

    def stop(self, timeout: float = 60) -> int:
        self.terminate()
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait()

    def __exit__(self, *exc: object) -> None:
        self.stop()
        if self.proc.stderr is not None:
            self.proc.stderr.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("models")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--delay", type=float, default=0.0)
    parser.add_argument("--started-file", default="")
    parser.add_argument("--max-concurrency", type=int, default=4)
    parser.add_argument("--max-request-mb", type=float, default=32)
    args = parser.parse_args()

    from normalcy.serve.app import create_app, run_server
    from normalcy.serve.settings import MB, ServeSettings

    settings = ServeSettings(
        port=args.port,
        max_concurrency=args.max_concurrency,
        max_request_bytes=int(args.max_request_mb * MB),
    )
    app = create_app(
        args.models,
        max_concurrency=settings.max_concurrency,
        max_request_bytes=settings.max_request_bytes,
    )
    if args.delay > 0:
        for model in app.state.models.values():
            model.detector.score = _slowed(model.detector.score, args.delay, args.started_file)
    run_server(app, settings)


def _slowed(score, delay: float, started_file: str):
    def slow(X):
        if started_file:
            Path(started_file).touch()
        time.sleep(delay)
        return score(X)

    return slow


if __name__ == "__main__":
    main()
