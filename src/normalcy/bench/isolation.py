"""Run one benchmark cell in a forked child with a time limit, so that a detector that hangs,
crashes or runs out of memory costs one row of the table, never the whole run."""

from __future__ import annotations

import multiprocessing as mp
from collections.abc import Callable
from typing import Any


def _child(conn: Any, work: Callable[..., dict[str, Any]], args: tuple[Any, ...]) -> None:
    try:
        conn.send(work(*args))
    except BaseException as exc:  # report anything, never hang the parent
        conn.send({"error": f"{type(exc).__name__}: {exc}"[:300]})
    finally:
        conn.close()


def run_isolated(
    work: Callable[..., dict[str, Any]], args: tuple[Any, ...], timeout: float | None
) -> dict[str, Any]:
    """``work(*args)`` (a dict of results) in a forked child that may run ``timeout``
    seconds; in-process when ``timeout`` is None or the platform cannot fork. A timeout or a
    dead child gives a row with an ``error`` (and ``total_s`` for a timeout)."""
    if timeout is None or "fork" not in mp.get_all_start_methods():
        return work(*args)
    ctx = mp.get_context("fork")
    receive, send = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_child, args=(send, work, args), daemon=True)
    proc.start()
    send.close()
    try:
        if receive.poll(timeout):
            row = receive.recv()
        else:
            row = {"error": f"timeout: no result within {timeout:g} s", "total_s": float(timeout)}
    except EOFError:
        row = {"error": f"the run died (exit code {proc.exitcode})"}
    finally:
        if proc.is_alive():
            proc.kill()
        proc.join()
        receive.close()
    return row
