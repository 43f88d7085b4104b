"""Model files: a zip of ``manifest.json`` and ``arrays.safetensors``; nothing is unpickled.

The manifest records the format and its version, the library version, the detector's
registered name and modality, its parameters, the calibrated threshold, the input spec
learned in ``fit``, the method's JSON metadata, and the SHA-256 of the arrays file. A
``manifest.sha256`` entry guards the manifest itself; an optional ``manifest.sig`` holds an
HMAC-SHA256 signature (``core.signing``).

Security model. A model file is untrusted input. ``load_model`` reads it with bounded
memory (``core.model_file_limits``: entry sizes, compression ratio, JSON size and depth),
checks the checksums, the signature when a key is given, every manifest field, that the
named detector exists and has the recorded modality, that the parameters pass the
detector's declared constraints, and that the arrays and metadata match the detector's
declared ``StateSpec``, all *before* the detector receives its state; estimators stored
through skops are audited by ``core.estimator_state``. Building the detector never
downloads (``core.network``) unless ``allow_download=True``. Every failure is a
``ModelFileError``. The checksums detect accidental damage only: anyone can recompute
them, so only a signature protects against deliberate edits.

Format versions: 1 (no signature entry) and 2 (adds ``signed`` and the optional signature)
are read; 2 is written.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import stat
import zipfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from . import network, signing
from .errors import ModelFileError, NormalcyError, NotFittedError
from .model_file_limits import (
    MAX_ARRAYS_BYTES,
    MAX_JSON_DEPTH,
    MAX_MANIFEST_BYTES,
    MAX_RATIO,
    MAX_SMALL_ENTRY_BYTES,
    RATIO_FLOOR_BYTES,
    EntryLimit,
    json_depth,
    open_regular_file,
    parse_json,
    read_zip_entries,
)
from .state_spec import verify_state
from .threshold import Threshold

FORMAT = "normalcy.model"
FORMAT_VERSION = 2
READABLE_VERSIONS = (1, 2)
MANIFEST = "manifest.json"
MANIFEST_HASH = "manifest.sha256"
ARRAYS = "arrays.safetensors"
SIGNATURE = "manifest.sig"

ENTRIES = {
    MANIFEST: EntryLimit(MAX_MANIFEST_BYTES),
    MANIFEST_HASH: EntryLimit(MAX_SMALL_ENTRY_BYTES),
    ARRAYS: EntryLimit(MAX_ARRAYS_BYTES),
    SIGNATURE: EntryLimit(MAX_SMALL_ENTRY_BYTES, required=False),
}
# Manifest fields: name -> accepted JSON types (checked exactly; bool is not an int here).
_FIELDS: dict[str, tuple[type, ...]] = {
    "format": (str,),
    "format_version": (int,),
    "library_version": (str,),
    "detector": (str,),
    "modality": (str,),
    "params": (dict,),
    "threshold": (dict, type(None)),
    "fitted": (bool,),
    "input_spec": (dict,),
    "state": (dict,),
    "arrays_sha256": (str,),
    "created_utc": (str,),
}
_V2_FIELDS = {"signed": (bool,)}


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


# -- writing ------------------------------------------------------------------------------
def check_destination(path: str | Path, what: str = "a model") -> Path:
    """Refuse to write a model file over a device, FIFO, socket or folder (symlinks
    followed): ``os.replace`` would swap out the device node itself."""
    path = Path(path)
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        if path.is_symlink():
            raise NormalcyError(
                f"{path} is a dangling symbolic link; refusing to write through it"
            ) from None
        return path
    except OSError as exc:
        raise NormalcyError(f"cannot write {path} ({exc})") from None
    if not stat.S_ISREG(mode):
        kind = "a folder" if stat.S_ISDIR(mode) else "a device, pipe or socket"
        raise NormalcyError(
            f"cannot save {what} to {path}: it is {kind}, not a regular file; give a file name"
        )
    return path


def _create_temp(folder: Path) -> tuple[int, Path]:
    """A new temporary file beside the target, created with mode 0666 less the umask."""
    for _ in range(100):
        tmp = folder / f".normalcy-{secrets.token_hex(8)}.tmp"
        try:
            return os.open(tmp, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o666), tmp
        except FileExistsError:
            continue
    raise NormalcyError(f"could not create a temporary file in {folder}")


def _write_zip(fh: Any, entries: dict[str, bytes]) -> None:
    with zipfile.ZipFile(fh, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
    # Entries that compress beyond the reader's zip-bomb ratio are stored instead, so every
    # file we write is one we read back.
    fh.seek(0)
    with zipfile.ZipFile(fh) as zf:
        dense = {
            i.filename
            for i in zf.infolist()
            if i.file_size > RATIO_FLOOR_BYTES and i.file_size > MAX_RATIO * max(i.compress_size, 1)
        }
    if dense:
        fh.seek(0)
        fh.truncate()
        with zipfile.ZipFile(fh, "w", zipfile.ZIP_DEFLATED) as zf:
            for name, data in entries.items():
                method = zipfile.ZIP_STORED if name in dense else zipfile.ZIP_DEFLATED
                zf.writestr(name, data, compress_type=method)


def save_model(detector: Any, path: str | Path, *, key: str | bytes | None = None) -> Path:
    """Write ``detector`` to ``path`` atomically (a crash never leaves a half-written file).

    The file gets mode 0666 less the process umask. With ``key`` (or
    ``$NORMALCY_MODEL_KEY``) it is signed with HMAC-SHA256.
    """
    if detector.info.needs_fit and not detector.is_fitted:
        raise NotFittedError(f"cannot save {detector.name!r}: it is not fitted")
    secret = signing.resolve_key(key)
    arrays, meta = detector._get_state() if detector.is_fitted else ({}, {})
    blob = _encode_arrays(arrays)
    if len(blob) > MAX_ARRAYS_BYTES:
        raise NormalcyError(f"cannot save: the state is {len(blob)} bytes, over {MAX_ARRAYS_BYTES}")
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
        "signed": secret is not None,
    }
    manifest_bytes = json.dumps(manifest, indent=2, sort_keys=True).encode()
    if len(manifest_bytes) > MAX_MANIFEST_BYTES or json_depth(manifest_bytes) > MAX_JSON_DEPTH:
        raise NormalcyError(
            f"cannot save {detector.name!r}: its manifest exceeds the reader's limits "
            f"({MAX_MANIFEST_BYTES} bytes, depth {MAX_JSON_DEPTH}); store large state as arrays"
        )
    entries = {MANIFEST: manifest_bytes, MANIFEST_HASH: _sha256(manifest_bytes).encode()}
    entries[ARRAYS] = blob
    if secret is not None:
        sig = {
            "algorithm": signing.ALGORITHM,
            "mac": signing.signature(secret, manifest_bytes, blob),
        }
        entries[SIGNATURE] = json.dumps(sig).encode()
    path = check_destination(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = _create_temp(path.parent)
    try:
        with os.fdopen(fd, "w+b") as fh:
            _write_zip(fh, entries)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


# -- reading ------------------------------------------------------------------------------
@dataclass(frozen=True)
class VerifiedFile:
    """A model file's contents after every check that needs no detector."""

    manifest: dict[str, Any]
    arrays: dict[str, np.ndarray]
    signed: bool
    signature_checked: bool


def _check_threshold(data: Any, where: str) -> Threshold | None:
    if data is None:
        return None
    try:
        return Threshold.from_dict(data)
    except ModelFileError as exc:
        raise ModelFileError(f"{where}: {exc}") from None


def _check_fields(manifest: dict[str, Any], where: str) -> None:
    version = manifest["format_version"]
    fields = dict(_FIELDS, **(_V2_FIELDS if version >= 2 else {}))
    missing = sorted(set(fields) - set(manifest))
    if missing:
        raise ModelFileError(f"{where}: the manifest lacks {missing}")
    extra = sorted(set(manifest) - set(fields))
    if extra:
        raise ModelFileError(f"{where}: the manifest holds unknown fields {extra[:5]}")
    for name, types in fields.items():
        value = manifest[name]
        if isinstance(value, bool) and bool not in types or not isinstance(value, types):
            names = " or ".join("null" if t is type(None) else t.__name__ for t in types)
            raise ModelFileError(
                f"{where}: manifest field {name!r} must be {names}, got {type(value).__name__}"
            )
    if not manifest["fitted"] and (manifest["state"] or manifest["input_spec"]):
        raise ModelFileError(f"{where}: an unfitted model holds fitted state")
    _check_threshold(manifest["threshold"], where)


def verify_file(path: str | Path, *, key: str | bytes | None = None) -> VerifiedFile:
    """Read and verify a model file with bounded memory; builds no detector.

    Checks the archive, manifest format and version, checksums, the signature (required
    when ``key`` or ``$NORMALCY_MODEL_KEY`` is set) and the manifest's fields.
    """
    secret = signing.resolve_key(key)
    path = Path(path)
    where = str(path)
    with open_regular_file(path) as fh:
        entries = read_zip_entries(fh, ENTRIES, where, what="a normalcy model file")
    manifest_bytes = entries[MANIFEST]
    manifest = parse_json(manifest_bytes, f"{where}: manifest.json")
    if not isinstance(manifest, dict):
        raise ModelFileError(f"{where}: manifest.json is not an object")
    if manifest.get("format") != FORMAT:
        raise ModelFileError(
            f"{where} is not a normalcy model file (format {str(manifest.get('format'))[:40]!r}, "
            f"expected {FORMAT!r})"
        )
    version = manifest.get("format_version")
    if not isinstance(version, int) or isinstance(version, bool):
        raise ModelFileError(f"{where}: format_version is missing or not an integer")
    if version > FORMAT_VERSION:
        raise ModelFileError(
            f"{where} uses model format {version}, newer than this normalcy "
            f"({_library_version()}) reads (up to {FORMAT_VERSION}); upgrade normalcy to load it"
        )
    if version not in READABLE_VERSIONS:
        raise ModelFileError(f"{where}: unknown model format version {version}")
    if entries[MANIFEST_HASH].decode("ascii", "replace").strip() != _sha256(manifest_bytes):
        raise ModelFileError(f"{where}: manifest checksum mismatch; the file was modified")
    blob = entries[ARRAYS]
    if _sha256(blob) != manifest.get("arrays_sha256"):
        raise ModelFileError(f"{where}: arrays checksum mismatch; the file was modified or damaged")
    _check_fields(manifest, where)
    signed = SIGNATURE in entries
    if signed != bool(manifest.get("signed", False)):
        raise ModelFileError(
            f"{where}: the manifest says signed={manifest.get('signed', False)} but the "
            f"signature entry is {'present' if signed else 'absent'}"
        )
    if secret is not None:
        sig = parse_json(entries[SIGNATURE], f"{where}: {SIGNATURE}") if signed else None
        signing.verify(secret, sig, manifest_bytes, blob, where)
    arrays = _decode_arrays(blob, where)
    return VerifiedFile(manifest, arrays, signed=signed, signature_checked=secret is not None)


def _decode_arrays(blob: bytes, where: str) -> dict[str, np.ndarray]:
    from safetensors.numpy import load

    try:
        arrays = load(blob)
    except Exception as exc:  # safetensors raises its own error types
        raise ModelFileError(f"{where}: the arrays could not be decoded ({exc})") from None
    for name, arr in arrays.items():
        if not isinstance(arr, np.ndarray) or arr.dtype.hasobject:
            raise ModelFileError(f"{where}: array {name[:80]!r} is not a plain numeric array")
    return arrays


def read_model_file(
    path: str | Path, *, key: str | bytes | None = None
) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Read and verify a model file; returns (manifest, arrays). Builds no detector."""
    verified = verify_file(path, key=key)
    return verified.manifest, verified.arrays


def _detector_class(manifest: dict[str, Any], where: str) -> type:
    """The registered class the manifest names, with the modality it records."""
    from .errors import UnknownDetectorError
    from .registry import get_class

    name = manifest["detector"]
    try:
        cls = get_class(name)
    except UnknownDetectorError:
        raise ModelFileError(
            f"{where} holds detector {name[:80]!r}, which this installation does not provide"
        ) from None
    if cls.info.modality != manifest["modality"]:
        raise ModelFileError(
            f"{where}: detector {name!r} is a {cls.info.modality} detector, but the file says "
            f"modality {manifest['modality'][:40]!r}; the file was relabelled or damaged"
        )
    return cls


def _build(name: str, manifest: dict[str, Any], arrays: dict[str, np.ndarray], where: str):
    from .registry import create

    try:
        detector = create(name, **manifest["params"])
    except ModelFileError:
        raise
    except Exception as exc:  # InputError from the declared constraints, or a bad value
        raise ModelFileError(f"{where}: its parameters do not build {name!r} ({exc})") from None
    if manifest["fitted"]:
        try:
            detector._set_input_spec(manifest["input_spec"])
        except ModelFileError:
            raise
        except Exception as exc:
            raise ModelFileError(f"{where}: its input spec is malformed ({exc})") from None
        try:
            spec = detector._state_spec()
        except NotImplementedError:
            raise ModelFileError(
                f"{where}: detector {name!r} declares no state spec, so its state cannot be "
                "verified; refusing to load it"
            ) from None
        except Exception as exc:
            raise ModelFileError(f"{where}: its input spec does not fit {name!r} ({exc})") from None
        meta = manifest["state"]
        try:
            verify_state(spec, arrays, meta)
        except ModelFileError as exc:
            raise ModelFileError(f"{where}: {exc} (detector {name!r})") from None
        try:
            detector._set_state(arrays, meta)
        except ModelFileError as exc:
            raise ModelFileError(f"{where}: {exc} (detector {name!r})") from None
        except Exception as exc:
            raise ModelFileError(
                f"{where}: the saved state does not fit detector {name!r} "
                f"({type(exc).__name__}: {exc})"
            ) from None
        detector.is_fitted_ = True
    elif arrays:
        raise ModelFileError(f"{where}: an unfitted model holds arrays")
    return detector


def load_model(path: str | Path, *, key: str | bytes | None = None, allow_download: bool = False):
    """Load a detector saved with ``save``; verifies the file before building anything.

    ``key`` (or ``$NORMALCY_MODEL_KEY``): refuse files not signed with it. ``allow_download``:
    let the detector fetch pretrained weights its file names (never by default).
    """
    verified = verify_file(path, key=key)
    manifest, where = verified.manifest, str(path)
    cls = _detector_class(manifest, where)
    with network.downloads_allowed(allow_download):
        detector = _build(cls.name, manifest, verified.arrays, where)
    network.mark(detector, allow_download)
    detector.threshold = _check_threshold(manifest["threshold"], where)
    return detector


def describe_model_file(path: str | Path, *, key: str | bytes | None = None) -> dict[str, Any]:
    """What a model file holds, verified as ``load`` verifies it up to building the detector."""
    verified = verify_file(path, key=key)
    manifest = verified.manifest
    try:
        _detector_class(manifest, str(path))
        available = True
    except ModelFileError:
        available = False
    if verified.signature_checked:
        signature = "signed, signature verified"
    elif verified.signed:
        signature = "signed (not verified: no key given)"
    else:
        signature = "unsigned"
    return {
        "path": str(path),
        "detector": manifest["detector"],
        "modality": manifest["modality"],
        "detector_available": available,
        "params": manifest["params"],
        "fitted": manifest["fitted"],
        "input_spec": manifest["input_spec"],
        "threshold": manifest["threshold"],
        "library_version": manifest["library_version"],
        "format_version": manifest["format_version"],
        "created_utc": manifest["created_utc"],
        "signed": verified.signed,
        "signature": signature,
        "state_keys": sorted(manifest["state"]),
        "arrays": {
            name: {"shape": list(arr.shape), "dtype": arr.dtype.name}
            for name, arr in sorted(verified.arrays.items())
        },
    }


def bytes_to_array(data: bytes) -> np.ndarray:
    """Raw bytes as a uint8 array, to keep an opaque, checksummed blob in safetensors."""
    return np.frombuffer(data, dtype=np.uint8).copy()
