"""Settings of ``normalcy serve`` and their validation (one place, used by the CLI and
``create_app``)."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from ..core.errors import InputError

MB = 1024 * 1024
DEFAULT_MAX_REQUEST_BYTES = 32 * MB
DEFAULT_MAX_CONCURRENCY = 4
DEFAULT_MAX_STREAMS = 64
DEFAULT_STREAM_IDLE_SECONDS = 600.0
TOKEN_ENV = "NORMALCY_SERVE_TOKEN"


def is_loopback(host: str) -> bool:
    """Whether ``host`` names only this machine (``localhost``, 127.0.0.0/8, ``::1``)."""
    host = host.strip().strip("[]")
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class ServeSettings:
    """What the service needs besides its models.

    ``token``: bearer token required on every endpoint but ``/health`` (None = no auth,
    allowed on a loopback host only). ``max_request_bytes``: larger bodies get 413.
    ``max_concurrency``: scoring requests running at once; more get 429.
    ``max_streams``: streams with state kept at once (see ``serve.streaming``);
    ``stream_idle_seconds``: a stream unused this long is dropped.
    """

    host: str = "127.0.0.1"
    port: int = 8000
    token: str | None = None
    max_request_bytes: int = DEFAULT_MAX_REQUEST_BYTES
    max_concurrency: int = DEFAULT_MAX_CONCURRENCY
    max_streams: int = DEFAULT_MAX_STREAMS
    stream_idle_seconds: float = DEFAULT_STREAM_IDLE_SECONDS

    def __post_init__(self) -> None:
        if self.token is not None and not self.token.strip():
            raise InputError("the serve token is empty; give a non-empty --token or none")
        if not 0 <= self.port <= 65535:
            raise InputError(f"--port {self.port} is out of range; expected 0..65535")
        if self.max_request_bytes < 1:
            raise InputError(
                f"the request size limit must be positive, got {self.max_request_bytes} bytes"
            )
        if self.max_concurrency < 1:
            raise InputError(f"--max-concurrency must be at least 1, got {self.max_concurrency}")
        if self.max_streams < 1:
            raise InputError(f"--max-streams must be at least 1, got {self.max_streams}")
        if not self.stream_idle_seconds > 0:
            raise InputError(
                f"--stream-idle-s must be positive, got {self.stream_idle_seconds} seconds"
            )
        if self.token is None and not is_loopback(self.host):
            raise InputError(
                f"refusing to serve on {self.host!r} without a token: anyone who can reach it "
                f"could use the models; pass --token or set ${TOKEN_ENV}, or bind to 127.0.0.1"
            )
