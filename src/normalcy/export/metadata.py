"""What an exported ONNX file says about itself (its ``metadata_props``), and its checks.

One key, ``normalcy``, holds a JSON object:

* ``format``: version of this layout (``FORMAT``);
* ``detector``, ``modality``: the normalcy detector exported and its data type;
* ``input``: what the graph needs. Tabular: ``n_features`` and ``feature_names`` (or null).
  Image: ``image_size`` (the square side the graph takes, pixels in [0, 1], channels last),
  ``resize`` ("stretch"), ``mean``/``std`` (the normalisation applied inside the graph) and
  ``map_size`` (the side of the map output, upsampled and smoothed as the detector does)
  and ``score_is_map_max`` (the image score is the maximum of the map at the image's own
  size, as PaDiM's; else the graph's ``score`` output);
* ``threshold``: the calibrated threshold (``Threshold.to_dict()``: value, method (fpr or
  contamination), rate, n_calibration, calibration) or null;
* ``outputs``: names of the score output and of the map output (null for tabular);
* ``exported_from``: the normalcy version, and ``notes`` (free text, e.g. how PatchCore's
  search was exported).

``read_metadata`` validates every field and raises ``ModelFileError`` naming what is wrong;
it imports neither torch nor any training code.
"""

from __future__ import annotations

import json
import math
from typing import Any

from ..core.errors import ModelFileError
from ..core.threshold import Threshold

KEY = "normalcy"
FORMAT = 1
MAX_METADATA_BYTES = 1_000_000
MAX_FEATURES = 1_000_000
MAX_IMAGE_SIDE = 4096
MODALITIES = ("tabular", "image")
_TOP = {"format", "detector", "modality", "input", "threshold", "outputs", "exported_from", "notes"}


def make_metadata(
    detector: str,
    modality: str,
    input_spec: dict[str, Any],
    threshold: Threshold | None,
    outputs: dict[str, str | None],
    notes: str = "",
) -> dict[str, Any]:
    from .. import __version__

    meta = {
        "format": FORMAT,
        "detector": detector,
        "modality": modality,
        "input": input_spec,
        "threshold": None if threshold is None else threshold.to_dict(),
        "outputs": outputs,
        "exported_from": f"normalcy {__version__}",
        "notes": notes,
    }
    check_metadata(meta)  # what is written must read back
    return meta


def dumps(meta: dict[str, Any]) -> str:
    return json.dumps(meta, sort_keys=True, allow_nan=False)


def read_metadata(props: dict[str, str]) -> dict[str, Any]:
    """The validated ``normalcy`` metadata of an ONNX file's ``metadata_props``."""
    text = props.get(KEY)
    if text is None:
        raise ModelFileError(
            f"the ONNX file has no {KEY!r} metadata; it was not written by normalcy export"
        )
    if len(text.encode("utf-8", "replace")) > MAX_METADATA_BYTES:
        raise ModelFileError(f"the {KEY!r} metadata is larger than {MAX_METADATA_BYTES} bytes")
    try:
        meta = json.loads(text, parse_constant=_refuse_constant)
    except (ValueError, RecursionError) as exc:
        raise ModelFileError(f"the {KEY!r} metadata is not valid JSON ({exc})") from None
    check_metadata(meta)
    return meta


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number")


def _fail(what: str) -> ModelFileError:
    return ModelFileError(f"ONNX metadata: {what}")


def _int_in(value: Any, low: int, high: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def check_metadata(meta: Any) -> None:
    """Raise ``ModelFileError`` unless ``meta`` has exactly the layout in the module doc."""
    if not isinstance(meta, dict) or set(meta) != _TOP:
        keys = sorted(meta) if isinstance(meta, dict) else type(meta).__name__
        raise _fail(f"expected exactly the fields {sorted(_TOP)}, got {str(keys)[:200]}")
    if meta["format"] != FORMAT or isinstance(meta["format"], bool):
        raise _fail(f"format {meta['format']!r:.40} is not {FORMAT} (a newer normalcy wrote it?)")
    for key in ("detector", "exported_from", "notes"):
        if not isinstance(meta[key], str) or len(meta[key]) > 10_000:
            raise _fail(f"{key} must be a string, got {str(meta[key])[:60]!r}")
    if meta["modality"] not in MODALITIES:
        raise _fail(f"modality must be one of {MODALITIES}, got {str(meta['modality'])[:40]!r}")
    if meta["threshold"] is not None:
        Threshold.from_dict(meta["threshold"])
    outputs = meta["outputs"]
    if (
        not isinstance(outputs, dict)
        or set(outputs) != {"score", "map"}
        or outputs["score"] != "score"
        or outputs["map"] not in (None, "map")
    ):
        raise _fail(
            f"outputs must be {{'score': 'score', 'map': 'map' or null}}, got {outputs!r:.80}"
        )
    if meta["modality"] == "tabular":
        _check_tabular_input(meta["input"])
    else:
        _check_image_input(meta["input"])


def _check_tabular_input(spec: Any) -> None:
    if not isinstance(spec, dict) or set(spec) != {"n_features", "feature_names"}:
        raise _fail(f"a tabular input must have n_features and feature_names, got {spec!r:.120}")
    n = spec["n_features"]
    if not _int_in(n, 1, MAX_FEATURES):
        raise _fail(f"n_features must be an integer in [1, {MAX_FEATURES}], got {n!r:.40}")
    names = spec["feature_names"]
    if names is not None and (
        not isinstance(names, list)
        or len(names) != n
        or not all(isinstance(s, str) and len(s) <= 1000 for s in names)
        or len(set(names)) != n
    ):
        raise _fail(f"feature_names must be null or {n} distinct strings, got {str(names)[:80]}")


_IMAGE_KEYS = {"image_size", "resize", "mean", "std", "map_size", "score_is_map_max"}


def _check_image_input(spec: Any) -> None:
    if not isinstance(spec, dict) or set(spec) != _IMAGE_KEYS:
        raise _fail(f"an image input must have the fields {sorted(_IMAGE_KEYS)}, got {spec!r:.120}")
    for key in ("image_size", "map_size"):
        if not _int_in(spec[key], 8, MAX_IMAGE_SIDE):
            raise _fail(f"{key} must be an integer in [8, {MAX_IMAGE_SIDE}], got {spec[key]!r:.40}")
    if spec["resize"] != "stretch":
        raise _fail(f"resize must be 'stretch', got {spec['resize']!r:.40}")
    for key in ("mean", "std"):
        v = spec[key]
        if not (isinstance(v, list) and len(v) == 3 and all(_finite(x) for x in v)):
            raise _fail(f"{key} must be three finite numbers, got {v!r:.60}")
    if not isinstance(spec["score_is_map_max"], bool):
        raise _fail("score_is_map_max must be true or false")
    if not all(x > 0 for x in spec["std"]):
        raise _fail("std must be positive")
