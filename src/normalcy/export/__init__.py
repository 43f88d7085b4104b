"""Export fitted detectors to ONNX, and score exported files without torch.

    import normalcy as nc
    nc.export(det, "model.onnx")                      # or normalcy.export.export(...)
    from normalcy.export.runtime import OnnxDetector
    onx = OnnxDetector("model.onnx")                  # onnxruntime only: no torch
    onx.score(X).scores, onx.score(X).labels          # flags at the exported threshold

The exported graph computes the detector's own score, preprocessing included, so its output
*is* the normalcy score; the threshold and the input description travel in the file's
metadata (``export.metadata``). Which detectors export, and how: ``SUPPORTED``
(docs/export.md has the measured parity and speed).
"""

from __future__ import annotations

import os
import sys
import types
from pathlib import Path
from typing import Any

from ..core.errors import InputError, NotFittedError

FORMATS = ("onnx",)

# detector -> how it is exported (the graph is hand-built unless said otherwise)
SUPPORTED: dict[str, str] = {
    "fedpca": "standardisation + PCA reconstruction error (hand-built graph)",
    "pca": "PyOD PCA: conditioning + distances to the selected components (hand-built graph)",
    "mcd": "PyOD MCD: conditioning + Mahalanobis distance (hand-built graph)",
    "ocsvm": "PyOD OCSVM: conditioning + float64 kernel expansion (hand-built graph)",
    "knn": "PyOD KNN: conditioning + exact k nearest training rows (TopK; hand-built graph)",
    "hbos": "PyOD HBOS (fixed n_bins): conditioning + per-feature bin lookup (hand-built graph)",
    "iforest": "PyOD IForest: conditioning + scikit-learn IsolationForest via skl2onnx",
    "lof": "PyOD LOF (novelty): conditioning + exact kNN + reachability densities (hand-built)",
    "padim": "normalisation + backbone + per-position Mahalanobis + map upsampling/blur (torch.onnx)",
    "patchcore": "normalisation + backbone + exact nearest neighbour in the bank (MatMul/ArgMin) "
    "+ Eq. 7 re-weighting + map upsampling/blur (torch.onnx)",
}
_IMAGE = ("padim", "patchcore")


def export(det: Any, path: str | Path, format: str = "onnx", *, force: bool = True) -> Path:
    """Write fitted detector ``det`` to ``path`` as an ONNX model; returns the path.

    The file's output ``score`` equals ``det.score(X).scores`` (within float rounding; see
    docs/export.md); image exports add an output ``map``. The calibrated threshold (if any)
    and the input description are stored in the file's metadata. Raises ``InputError`` for
    detectors without an exporter (``SUPPORTED`` lists those with one).
    """
    from . import metadata as md
    from .safety import MAX_FILE_BYTES

    if format not in FORMATS:
        raise InputError(f"export format must be one of {FORMATS}, got {format!r}")
    name = getattr(det, "name", "")
    if name not in SUPPORTED:
        raise InputError(
            f"detector {name or type(det).__name__!r} cannot be exported to ONNX; exportable "
            f"detectors: {', '.join(sorted(SUPPORTED))}"
        )
    if not getattr(det, "is_fitted", False):
        raise NotFittedError(f"{name} is not fitted; fit it before exporting")
    path = Path(path)
    if path.exists() and not force:
        raise InputError(f"{path} exists; pass force=True to overwrite it")
    notes = ""
    if name in _IMAGE:
        from .image import image_model

        model, input_spec, notes = image_model(det)
        outputs = {"score": "score", "map": "map"}
        modality = "image"
    else:
        if name == "fedpca":
            from .tabular_fedpca import fedpca_model

            model = fedpca_model(det)
        else:
            from .tabular_pyod import pyod_model

            model = pyod_model(det)
        input_spec = {"n_features": int(det.n_features_in_), "feature_names": det.feature_names_in_}
        outputs = {"score": "score", "map": None}
        modality = "tabular"
    meta = md.make_metadata(name, modality, input_spec, det.threshold, outputs, notes)
    del model.metadata_props[:]
    entry = model.metadata_props.add()
    entry.key, entry.value = md.KEY, md.dumps(meta)
    data = model.SerializeToString()
    if len(data) > MAX_FILE_BYTES:
        raise InputError(
            f"the exported model is {len(data)} bytes, above the {MAX_FILE_BYTES}-byte limit "
            "the ONNX runtime loader accepts; reduce the model (e.g. a smaller PatchCore bank)"
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".part")
    tmp.write_bytes(data)
    os.replace(tmp, path)
    return path


class _CallableModule(types.ModuleType):
    """``nc.export(det, path)`` calls ``export`` although ``normalcy.export`` is a package."""

    def __call__(self, *args: Any, **kwargs: Any) -> Path:
        return export(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
