"""Connecting to Ray: import it with a clear error, start or join a cluster, and leave it as
it was found (a cluster this module started is shut down afterwards unless asked not to)."""

from __future__ import annotations

import contextlib
import logging
import os
import re
import socket
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

from ..core.errors import InputError, NormalcyError

INSTALL_HINT = "pip install 'normalcy[distributed]'"
LOCAL = ("local", "")
# how long to wait for a TCP answer from a cluster address before calling it unreachable
# (ray.init itself retries an unreachable address for minutes)
CONNECT_TIMEOUT_S = 5.0


class ClusterError(NormalcyError, ConnectionError):
    """A Ray cluster could not be reached or started."""


def require_ray() -> Any:
    """The ``ray`` module with Ray Data, or a ``NormalcyError`` naming the extra to install."""
    try:
        import ray
        import ray.data  # noqa: F401
    except ImportError as exc:
        raise NormalcyError(
            f"distributed scoring needs Ray with Ray Data ({exc}); install it with {INSTALL_HINT}"
        ) from None
    return ray


def _host_port(address: str) -> tuple[str, int] | None:
    """``(host, port)`` of ``host:port`` or ``ray://host:port``; None for ``auto``."""
    if address == "auto":
        return None
    parts = urlsplit(address if "://" in address else f"tcp://{address}")
    try:
        port = parts.port
    except ValueError:
        port = None
    if not parts.hostname or port is None:
        raise InputError(
            f"Ray address {address!r} is not understood; expected 'local', 'auto', HOST:PORT "
            "(the head node's GCS port, 6379 by default) or ray://HOST:PORT (Ray Client)"
        )
    return parts.hostname, port


def check_reachable(address: str, timeout: float = CONNECT_TIMEOUT_S) -> None:
    """Refuse, quickly and clearly, an address nothing listens on."""
    where = _host_port(address)
    if where is None:
        return
    try:
        with socket.create_connection(where, timeout=timeout):
            pass
    except OSError as exc:
        raise ClusterError(
            f"cannot reach a Ray cluster at {address!r} ({exc.strerror or exc}); start one with "
            "`ray start --head` and pass the address it prints, or use 'local' for a cluster "
            "on this machine"
        ) from None


@contextlib.contextmanager
def connected(
    address: str | None = None,
    *,
    num_cpus: int | None = None,
    keep_cluster: bool = False,
    quiet: bool = True,
) -> Iterator[Any]:
    """Ray, initialised for the duration of the block.

    ``address`` None or ``"local"``: use the Ray already initialised in this process, else
    start a local one with ``num_cpus`` CPUs (all by default). Anything else (``"auto"``,
    ``HOST:PORT``, ``ray://HOST:PORT``) joins that cluster. On exit, what this call started
    is shut down (a local cluster stops; a joined cluster is only disconnected from) unless
    ``keep_cluster``; a Ray initialised before the call is left alone.
    """
    ray = require_ray()
    address = None if address is None else str(address).strip()
    local = address is None or address.lower() in LOCAL
    started = False
    if not ray.is_initialized():
        kwargs: dict[str, Any] = {"include_dashboard": False}
        if quiet:
            kwargs.update(logging_level=logging.WARNING, log_to_driver=False)
        if local:
            kwargs["num_cpus"] = num_cpus or os.cpu_count() or 1
            with _no_ray_address():
                _init(ray, None, kwargs)
        else:
            check_reachable(address)
            _init(ray, address, kwargs)
        started = True
    elif not local:
        current = _current_address(ray)
        if current and address not in ("auto", current):
            raise ClusterError(
                f"Ray is already initialised in this process (at {current}); cannot also join "
                f"{address!r}: call ray.shutdown() first or pass address=None"
            )
    if quiet:
        _quiet_data()
    try:
        yield ray
    finally:
        if started and not keep_cluster:
            ray.shutdown()


def _init(ray: Any, address: str | None, kwargs: dict[str, Any]) -> None:
    try:
        ray.init(address=address, **kwargs)
    except (ConnectionError, TimeoutError, RuntimeError) as exc:
        where = f"the Ray cluster at {address!r}" if address else "a local Ray cluster"
        raise ClusterError(f"cannot connect to {where}: {' '.join(str(exc).split())}") from None


@contextlib.contextmanager
def _no_ray_address() -> Iterator[None]:
    """Start a fresh local cluster even when ``RAY_ADDRESS`` names another one."""
    saved = os.environ.pop("RAY_ADDRESS", None)
    try:
        yield
    finally:
        if saved is not None:
            os.environ["RAY_ADDRESS"] = saved


def _current_address(ray: Any) -> str | None:
    try:
        return ray.get_runtime_context().gcs_address
    except Exception:  # pragma: no cover - depends on the Ray version
        return None


def _quiet_data() -> None:
    """No progress bars or per-dataset log lines from Ray Data."""
    from ray.data import DataContext

    ctx = DataContext.get_current()
    ctx.enable_progress_bars = False
    with contextlib.suppress(AttributeError):
        ctx.print_on_execution_start = False
    logging.getLogger("ray.data").setLevel(logging.WARNING)


# how a worker's NormalcyError travels: Ray Data re-raises user errors as its own
# exceptions, keeping only their text, so the class name is written into that text
_MARK = re.compile(r"\[normalcy:(\w+)\] ([^\n]*)")


def worker_error(exc: NormalcyError) -> RuntimeError:
    """What a worker raises for ``exc``: its class and message, readable by ``driver_errors``."""
    return RuntimeError(f"[normalcy:{type(exc).__name__}] {' '.join(str(exc).split())}")


@contextlib.contextmanager
def driver_errors() -> Iterator[None]:
    """A ``NormalcyError`` raised on a worker is raised again here as the same class with
    the same message, not as one of Ray's wrapped task errors."""
    try:
        yield
    except NormalcyError:
        raise
    except Exception as exc:
        found = _MARK.search(str(exc))
        if found is None:
            raise
        from ..core import errors

        cls = getattr(errors, found.group(1), None)
        if not (isinstance(cls, type) and issubclass(cls, NormalcyError)):
            cls = NormalcyError
        raise cls(found.group(2)) from None
