"""Model files: a zip of ``manifest.json`` and ``arrays.safetensors``; nothing is unpickled.

The manifest records the format and its version, the library version, the detector's
registered name, its parameters, the calibrated threshold, the input spec learned in
``fit``, the method's JSON metadata, and the SHA-256 of the arrays file. A
``manifest.sha256`` entry guards the manifest itself. ``load_model`` checks all of this
*before* building anything and raises ``ModelFileError`` naming the problem.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import zipfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from .errors import ModelFileError, NormalcyError, NotFittedError
from .state_spec import verify_state
from .threshold import Threshold

FORMAT = "normalcy.model"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
MANIFEST_HASH = "manifest.sha256"
ARRAYS = "arrays.safetensors"


def _library_version() -> str:
    from normalcy import __version__

    return __version__


def _jsonable(value: Any, where: str) -> Any:
    """Convert tuples and numpy scalars; reject what JSON cannot hold faithfully."""
    if isinstance(value, (str, bool, int, float)) or value is None:
        return value
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (list, tuple)):
        return [_jsonable(v, where) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v, where) for k, v in value.items()}
    if isinstance(value, Path):
        return str(value)
    raise NormalcyError(f"cannot save {where}: value of type {type(value).__name__} is not JSON")


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _encode_arrays(arrays: dict[str, np.ndarray]) -> bytes:
    from safetensors.numpy import save

    clean = {}
    for key, arr in arrays.items():
        arr = np.asarray(arr)
        if arr.dtype == object:
            raise NormalcyError(f"cannot save array {key!r}: object arrays are not allowed")
        clean[key] = np.ascontiguousarray(arr)
    return save(clean)


def save_model(detector: Any, path: str | Path) -> Path:
    """Write ``detector`` to ``path`` atomically (a crash never leaves a half-written file)."""
    if detector.info.needs_fit and not detector.is_fitted:
        raise NotFittedError(f"cannot save {detector.name!r}: it is not fitted")
    arrays, meta = detector._get_state() if detector.is_fitted else ({}, {})
    blob = _encode_arrays(arrays)
    manifest = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "library_version": _library_version(),
        "detector": detector.name,
        "modality": detector.modality,
        "params": _jsonable(detector.get_params(), "params"),
        "threshold": detector.threshold.to_dict() if detector.threshold is not None else None,
        "fitted": detector.is_fitted,
        "input_spec": _jsonable(detector._input_spec() if detector.is_fitted else {}, "input"),
        "state": _jsonable(meta, "state"),
        "arrays_sha256": _sha256(blob),
        "created_utc": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    manifest_bytes = json.dumps(manifest, indent=2, sort_keys=True).encode()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".normalcy-", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh, zipfile.ZipFile(fh, "w", zipfile.ZIP_DEFLATED) as zf:
            zf.writestr(MANIFEST, manifest_bytes)
            zf.writestr(MANIFEST_HASH, _sha256(manifest_bytes))
            zf.writestr(ARRAYS, blob)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def read_model_file(path: str | Path) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Read and verify a model file; returns (manifest, arrays). Builds no detector."""
    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"model file {path} does not exist")
    try:
        with zipfile.ZipFile(path) as zf:
            names = set(zf.namelist())
            missing = {MANIFEST, MANIFEST_HASH, ARRAYS} - names
            if missing:
                raise ModelFileError(
                    f"{path} is not a normalcy model file: it lacks {sorted(missing)}"
                )
            manifest_bytes = zf.read(MANIFEST)
            manifest_hash = zf.read(MANIFEST_HASH).decode("ascii", "replace").strip()
            blob = zf.read(ARRAYS)
    except zipfile.BadZipFile as exc:
        raise ModelFileError(
            f"{path} is not a normalcy model file, or it is truncated ({exc})"
        ) from None
    except (OSError, EOFError, zipfile.LargeZipFile) as exc:
        raise ModelFileError(f"{path} could not be read, it may be truncated ({exc})") from None
    try:
        manifest = json.loads(manifest_bytes)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ModelFileError(f"{path}: manifest.json is not valid JSON ({exc})") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise ModelFileError(
            f"{path} is not a normalcy model file (format {manifest.get('format')!r}, "
            f"expected {FORMAT!r})"
            if isinstance(manifest, dict)
            else f"{path}: manifest.json is not an object"
        )
    version = manifest.get("format_version")
    if not isinstance(version, int):
        raise ModelFileError(f"{path}: format_version is missing or not an integer")
    if version > FORMAT_VERSION:
        raise ModelFileError(
            f"{path} uses model format {version}, newer than this normalcy "
            f"({_library_version()}) reads (up to {FORMAT_VERSION}); upgrade normalcy to load it"
        )
    if _sha256(manifest_bytes) != manifest_hash:
        raise ModelFileError(f"{path}: manifest checksum mismatch; the file was modified")
    if _sha256(blob) != manifest.get("arrays_sha256"):
        raise ModelFileError(f"{path}: arrays checksum mismatch; the file was modified or damaged")
    from safetensors.numpy import load

    try:
        arrays = load(blob)
    except Exception as exc:  # safetensors raises its own error types
        raise ModelFileError(f"{path}: the arrays could not be decoded ({exc})") from None
    return manifest, arrays


def load_model(path: str | Path):
    """Load a detector saved with ``save``; verifies the file before building anything."""
    from .registry import UnknownDetectorError, create

    manifest, arrays = read_model_file(path)
    name = manifest.get("detector")
    try:
        detector = create(name, **(manifest.get("params") or {}))
    except UnknownDetectorError:
        raise ModelFileError(
            f"{path} holds detector {name!r}, which this installation does not provide"
        ) from None
    except (NormalcyError, TypeError, ValueError) as exc:
        raise ModelFileError(f"{path}: its parameters do not build {name!r} ({exc})") from None
    if manifest.get("fitted"):
        try:
            detector._set_input_spec(manifest.get("input_spec") or {})
        except NormalcyError:
            raise
        except Exception as exc:
            raise ModelFileError(f"{path}: its input spec is malformed ({exc})") from None
        try:
            spec = detector._state_spec()
        except NotImplementedError:
            raise ModelFileError(
                f"{path}: detector {name!r} declares no state spec, so its state cannot be "
                "verified; refusing to load it"
            ) from None
        meta = manifest.get("state") or {}
        try:
            verify_state(spec, arrays, meta)
        except ModelFileError as exc:
            raise ModelFileError(f"{path}: {exc} (detector {name!r})") from None
        try:
            detector._set_state(arrays, meta)
        except NormalcyError:
            raise
        except Exception as exc:
            raise ModelFileError(
                f"{path}: the saved state does not fit detector {name!r} ({exc})"
            ) from None
        detector.is_fitted_ = True
    if manifest.get("threshold") is not None:
        detector.threshold = Threshold.from_dict(manifest["threshold"])
    return detector


def bytes_to_array(data: bytes) -> np.ndarray:
    """Raw bytes as a uint8 array, to keep an opaque, checksummed blob in safetensors."""
    return np.frombuffer(data, dtype=np.uint8).copy()
