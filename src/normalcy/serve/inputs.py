"""Turning an HTTP request into a detector's input, per modality.

* tabular / events: JSON rows (lists by position, or objects by column name), or a
  CSV/Parquet upload read by the modality's own reader;
* series: a JSON segment (numbers, or equal-length lists of numbers), or an upload;
* logs: JSON sessions, records or raw lines (passed through to the detector's validation);
* image: multipart ``files`` (one or more image files) or JSON ``{"images": [base64, ...]}``
  (a ``data:image/...;base64,`` prefix is accepted), decoded here with PIL under a pixel
  budget: each image at most ``image.input.MAX_IMAGE_PIXELS`` pixels, all images of one
  request together at most ``MAX_REQUEST_PIXELS`` and at most ``MAX_IMAGES`` images.

Everything here raises ``InputError`` (422) or ``TooLarge`` (413) with a message saying
what was wrong; nothing returns a 500 for bad input. The request body has already been
capped by the service's size limit before it reaches these functions.
"""

from __future__ import annotations

import base64
import binascii
import io
import json
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from ..core.errors import InputError
from ..image.input import ImageTooLargeError

TABLE_MODALITIES = ("tabular", "events")
UPLOAD_MODALITIES = ("tabular", "events", "series")
UPLOAD_SUFFIXES = (".csv", ".parquet", ".pq")
JSON_MODALITIES = ("tabular", "events", "series", "logs")
IMAGE_MODALITIES = ("image",)
SCORABLE_MODALITIES = JSON_MODALITIES + IMAGE_MODALITIES
MAX_IMAGES = 64
MAX_REQUEST_PIXELS = 2**24  # 16.8 M pixels (~200 MB as float RGB): 64 images of 512 x 512
MAX_FORM_FIELDS = 16
MAX_MAP_VALUES = 2**20  # a larger map is averaged down to this many values in an answer
INLINE_MAX_BYTES = 4096  # JSON bodies up to this size may be scored on the event loop


# The OpenAPI description of a scoring request's body (FastAPI cannot infer it: the body is
# read by ``read_request``, not declared as a parameter).
SCORE_REQUEST_BODY = {
    "required": True,
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "properties": {
                    "data": {"type": "array"},
                    "images": {"type": "array", "items": {"type": "string"}},
                },
            }
        },
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "properties": {
                    "file": {"type": "string", "format": "binary"},
                    "files": {"type": "array", "items": {"type": "string", "format": "binary"}},
                },
            }
        },
    },
}


# A request within the byte cap whose content is still too large to score (413); the image
# reader raises the same class for an image beyond its pixel limit, so both answer 413.
TooLarge = ImageTooLargeError


def media_type(headers: Any) -> str:
    return headers.get("content-type", "").split(";")[0].strip().lower()


def parse_json(body: bytes, expected: str) -> Any:
    """The JSON value of ``body``; ``InputError`` naming ``expected`` if it is not JSON."""
    try:
        return json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as exc:
        raise InputError(f"the body must be {expected}: {exc}") from None


# -- tables, series, logs -------------------------------------------------------------------
def json_input(det: Any, data: Any) -> Any:
    """The detector input for the ``data`` of a JSON body."""
    modality = det.modality
    if not isinstance(data, list):
        raise InputError(
            f'"data" must be a JSON list (rows, points or sessions), got {type(data).__name__}'
        )
    if modality in TABLE_MODALITIES:
        return _rows(det, data)
    if modality == "series":
        try:
            return np.asarray(data, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise InputError(
                f'series "data" must be a list of numbers or of equal-length lists of numbers: {exc}'
            ) from None
    return data  # logs: sessions as lists of event keys, records or raw lines


def _rows(det: Any, data: list) -> Any:
    names = getattr(det, "feature_names_in_", None)
    if data and all(isinstance(row, dict) for row in data):
        import pandas as pd

        return pd.DataFrame.from_records(data)
    if not all(isinstance(row, list) for row in data):
        raise InputError('"data" must be a list of rows: all lists or all objects')
    widths = {len(row) for row in data}
    if len(widths) > 1:
        raise InputError(f'the rows of "data" have different lengths: {sorted(widths)}')
    if data and _all_numbers(data):
        # the hot path (numeric rows by position): an array, no DataFrame to build
        values = np.asarray(data, dtype=np.float64)
        if names is None or len(names) != values.shape[1]:
            return values
        import pandas as pd

        return pd.DataFrame(values, columns=list(names), copy=False)
    import pandas as pd

    frame = pd.DataFrame(data)
    if names is not None and len(names) == frame.shape[1]:
        frame.columns = list(names)  # rows given by position: the fitted columns' order
    return frame


def _all_numbers(rows: list[list]) -> bool:
    return all(type(v) is float or (type(v) is int and abs(v) < 2**53) for row in rows for v in row)


def read_upload(modality: str, filename: str, content: bytes) -> Any:
    """An uploaded table, read by the modality's own reader (as the CLI reads it)."""
    from ..core.modality import get_modality

    suffix = Path(filename or "").suffix.lower() or ".csv"
    if suffix not in UPLOAD_SUFFIXES:
        raise InputError(f"cannot read upload {filename!r}: expected a .csv or .parquet file")
    reader = get_modality(modality).resolve("reader")
    with tempfile.TemporaryDirectory(prefix="normalcy-serve-") as tmp:
        path = Path(tmp) / f"upload{suffix}"
        path.write_bytes(content)
        try:
            return reader(path)
        except InputError as exc:
            raise InputError(str(exc).replace(str(path), filename or "the upload")) from None


# -- images ---------------------------------------------------------------------------------
def base64_images(payload: Any) -> list[tuple[str, bytes]]:
    """(name, bytes) of each image of a JSON body ``{"images": [base64, ...]}``."""
    if not isinstance(payload, dict) or "images" not in payload:
        raise InputError(
            'image models take a JSON object {"images": ["<base64>", ...]} or a multipart '
            'upload of image "files"'
        )
    items = payload["images"]
    if not isinstance(items, list) or not items:
        raise InputError('"images" must be a non-empty list of base64-encoded image files')
    _check_count(len(items))
    out = []
    for i, item in enumerate(items):
        if not isinstance(item, str):
            raise InputError(f'"images"[{i}] is a {type(item).__name__}; expected a base64 string')
        text = item.strip()
        if text.startswith("data:"):  # a data URL, as a browser's FileReader gives it
            head, sep, text = text.partition(",")
            if not sep or not head.endswith(";base64"):
                raise InputError(f'"images"[{i}] is a data URL without ";base64,"')
        try:
            out.append((f"images[{i}]", base64.b64decode(text, validate=True)))
        except (binascii.Error, ValueError) as exc:
            raise InputError(f'"images"[{i}] is not valid base64: {exc}') from None
    return out


def _check_count(n: int) -> None:
    if n > MAX_IMAGES:
        raise TooLarge(f"{n} images in one request; at most {MAX_IMAGES} are accepted")


def decode_images(files: list[tuple[str, bytes]]) -> list[Any]:
    """Decode image files (name, bytes) into loaded PIL images, refusing corrupt data and
    anything beyond the pixel budget before it is decoded."""
    from PIL import Image

    from ..image.input import check_image_size, decode_guard

    _check_count(len(files))
    opened = []
    total = 0
    for name, data in files:
        if not data:
            raise InputError(f"image {name} is empty; expected an image file (PNG, JPEG, ...)")
        with decode_guard(f"image {name}", "decode"):
            im = Image.open(io.BytesIO(data))
        w, h = im.size
        check_image_size(h, w, f"image {name}")
        total += w * h
        if total > MAX_REQUEST_PIXELS:
            raise TooLarge(
                f"the images of this request hold more than {MAX_REQUEST_PIXELS} pixels "
                "together; send fewer or smaller images per request"
            )
        opened.append((name, im))
    for name, im in opened:
        with decode_guard(f"image {name}", "decode"):
            im.load()
    return [im for _, im in opened]


def map_entry(m: np.ndarray) -> dict[str, Any]:
    """One anomaly map as ``{"shape": [h, w], "values": [...]}``: row-major, 5 significant
    digits (non-finite values, which detectors should never give, become 0). A map of more
    than ``MAX_MAP_VALUES`` values is first averaged down (box filter) to fit, keeping its
    aspect ratio: a client stretches the map over its image anyway."""
    m = np.nan_to_num(np.asarray(m, dtype=np.float32), nan=0.0, posinf=0.0, neginf=0.0)
    h, w = m.shape
    if h * w > MAX_MAP_VALUES:
        from PIL import Image

        f = (MAX_MAP_VALUES / (h * w)) ** 0.5
        size = (max(1, int(w * f)), max(1, int(h * f)))
        m = np.asarray(Image.fromarray(m, mode="F").resize(size, Image.BOX))
    return {"shape": [int(m.shape[0]), int(m.shape[1])], "values": round_sig(m.ravel())}


def round_sig(values: np.ndarray, digits: int = 5) -> list[float]:
    """``values`` rounded to ``digits`` significant digits, as Python floats."""
    fmt = f"{{:.{digits}g}}".format
    return [float(fmt(v)) for v in values.tolist()]


# -- the request ----------------------------------------------------------------------------
async def read_request(request: Any, det: Any) -> tuple[Callable[[], Any], bool]:
    """Read the body of a scoring request for ``det`` (async) and return a function that
    builds the detector's input from it, and whether the request is small enough
    (a JSON body of at most ``INLINE_MAX_BYTES``) to be parsed and scored on the event
    loop rather than in a worker thread (parsing, reading an upload and decoding images
    can take a while; handing a tiny request to a thread costs more than scoring it)."""
    modality = det.modality
    if media_type(request.headers) == "multipart/form-data":
        return await _read_form(request, modality), False
    body = await request.body()
    if modality in IMAGE_MODALITIES:
        return lambda: decode_images(
            base64_images(parse_json(body, 'JSON {"images": [base64, ...]} or multipart "files"'))
        ), False

    def build() -> Any:
        payload = parse_json(body, 'JSON {"data": ...} or a multipart CSV/Parquet "file"')
        if not isinstance(payload, dict) or "data" not in payload:
            raise InputError('the JSON body must be an object with a "data" field')
        return json_input(det, payload["data"])

    return build, len(body) <= INLINE_MAX_BYTES


async def _read_form(request: Any, modality: str) -> Any:
    from starlette.datastructures import UploadFile

    if modality in IMAGE_MODALITIES:
        form = await request.form(max_files=MAX_IMAGES + 1, max_fields=MAX_FORM_FIELDS)
        uploads = [f for key in ("files", "file") for f in form.getlist(key)]
        if not uploads or not all(isinstance(f, UploadFile) for f in uploads):
            raise InputError('upload images as multipart file fields named "files"')
        _check_count(len(uploads))
        files = [(f.filename or f"files[{i}]", await f.read()) for i, f in enumerate(uploads)]
        return lambda: decode_images(files)
    if modality not in UPLOAD_MODALITIES:
        raise InputError(f'{modality} detectors take a JSON body {{"data": ...}}, not an upload')
    form = await request.form(max_files=1, max_fields=MAX_FORM_FIELDS)
    upload = form.get("file")
    if not isinstance(upload, UploadFile):
        raise InputError('the upload must be a multipart file field named "file"')
    content = await upload.read()
    name = upload.filename or ""
    return lambda: read_upload(modality, name, content)
