"""Optional HMAC-SHA256 signatures on model files (RFC 2104), for integrity against edits.

The SHA-256 checksums inside every model file detect accidental damage only: anyone who can
edit the file can recompute them. A signature made with a secret key cannot be recomputed
without it. ``save(..., key=...)`` (or the ``NORMALCY_MODEL_KEY`` environment variable)
signs the SHA-256 digests of the manifest (which records the arrays' digest) and of the
arrays; ``load(..., key=...)`` (or the variable) then refuses unsigned or wrongly signed
files. The key never appears in the file.
"""

from __future__ import annotations

import hashlib
import hmac
import os

from .errors import ModelFileError, NormalcyError

ENV_KEY = "NORMALCY_MODEL_KEY"
ALGORITHM = "hmac-sha256"
_DOMAIN = b"normalcy.model signature v1\n"


def resolve_key(key: str | bytes | None) -> bytes | None:
    """The signing key: ``key`` if given, else ``$NORMALCY_MODEL_KEY``, else ``None``."""
    if key is None:
        env = os.environ.get(ENV_KEY)
        if not env:
            return None
        key = env
    if isinstance(key, str):
        key = key.encode("utf-8")
    if not isinstance(key, (bytes, bytearray)) or len(key) == 0:
        raise NormalcyError("a model-file key must be a non-empty str or bytes")
    return bytes(key)


def signature(key: bytes, manifest: bytes, arrays: bytes) -> str:
    """Hex HMAC-SHA256 of the manifest's and the arrays' SHA-256 digests."""
    message = _DOMAIN + hashlib.sha256(manifest).digest() + hashlib.sha256(arrays).digest()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def verify(key: bytes, sig: dict | None, manifest: bytes, arrays: bytes, where: str) -> None:
    """Raise ``ModelFileError`` unless ``sig`` is a valid signature by ``key``."""
    if sig is None:
        raise ModelFileError(
            f"{where} is not signed, but a key was given (key= or ${ENV_KEY}); refusing an "
            "unsigned file"
        )
    mac = sig.get("mac") if isinstance(sig, dict) else None
    if not isinstance(sig, dict) or sig.get("algorithm") != ALGORITHM or not isinstance(mac, str):
        raise ModelFileError(f"{where}: its signature entry is malformed (expected {ALGORITHM})")
    if not hmac.compare_digest(
        mac.encode("ascii", "replace"), signature(key, manifest, arrays).encode()
    ):
        raise ModelFileError(
            f"{where}: the signature does not match; the file was modified or signed with "
            "another key"
        )
