"""``OnnxDetector``: score with an exported ONNX file and onnxruntime alone.

Needs numpy, onnx, onnxruntime (and Pillow for images); imports neither torch nor
scikit-learn nor any training code. Input is validated by the same functions as the
detector's (``tabular.input``, ``image.input``), so what normalcy would refuse is refused
here with the same ``InputError``.

    onx = OnnxDetector("model.onnx")
    res = onx.score(X)          # Scores: scores, labels at the stored threshold, maps (images)
    onx.threshold = 3.2         # adjust (a number or a Threshold)
    onx.calibrate(holdout, fpr=0.01)   # or re-derive it from held-out normal data
    onx.save("model.onnx")      # the file with the new threshold in its metadata
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from ..core.errors import InputError, ModelFileError, NormalcyError
from ..core.scores import Scores
from ..core.threshold import Threshold, check_rate
from ..image.interpolation import interp_matrix
from .safety import MAX_ELEMENTS, MAX_FILE_BYTES, read_model


class OnnxDetector:
    """An exported normalcy model, scored with onnxruntime.

    Parameters
    ----------
    path:
        The ``.onnx`` file written by ``normalcy export`` / ``normalcy.export.export``.
    num_threads:
        onnxruntime's intra-op threads (None: its default).
    batch_size:
        Images per session call (images only; tabular input is scored in one call, as the
        detector does, because a drift lift depends on the batch).
    max_bytes, max_elements:
        Caps on the file size and on any tensor it declares (see ``export.safety``).
    """

    def __init__(
        self,
        path: str | Path,
        *,
        num_threads: int | None = None,
        batch_size: int = 8,
        max_bytes: int = MAX_FILE_BYTES,
        max_elements: int = MAX_ELEMENTS,
    ) -> None:
        import onnxruntime as ort

        data, meta = read_model(path, max_bytes=max_bytes, max_elements=max_elements)
        self._bytes = data
        self.path = Path(path)
        self.metadata = meta
        self.name: str = meta["detector"]
        self.modality: str = meta["modality"]
        self.batch_size = max(1, int(batch_size))
        self._threshold = (
            None if meta["threshold"] is None else Threshold.from_dict(meta["threshold"])
        )
        options = ort.SessionOptions()
        options.log_severity_level = 3
        if num_threads is not None:
            options.intra_op_num_threads = max(1, int(num_threads))
            options.inter_op_num_threads = 1
        try:
            self._session = ort.InferenceSession(
                data, sess_options=options, providers=["CPUExecutionProvider"]
            )
        except Exception as exc:
            raise ModelFileError(f"onnxruntime cannot load {path}: {str(exc)[:300]}") from None
        self._check_signature()

    # -- the graph must take and give what the metadata says -------------------------------
    def _check_signature(self) -> None:
        ins = {i.name: i for i in self._session.get_inputs()}
        outs = {o.name: o for o in self._session.get_outputs()}
        spec = self.metadata["input"]
        if self.modality == "tabular":
            want_in = {"X": ("tensor(double)", [None, spec["n_features"]])}
            want_out = {"score": "tensor(double)"}
        else:
            s = spec["image_size"]
            want_in = {"images": ("tensor(float)", [None, s, s, 3])}
            want_out = {"score": "tensor(float)", "map": "tensor(float)"}
        if set(ins) != set(want_in) or set(outs) != set(want_out):
            raise ModelFileError(
                f"the graph takes {sorted(ins)} and gives {sorted(outs)}; a {self.modality} "
                f"export takes {sorted(want_in)} and gives {sorted(want_out)}"
            )
        for name, (dtype, shape) in want_in.items():
            got = ins[name]
            fixed = [d if isinstance(d, int) else None for d in got.shape]
            if got.type != dtype or fixed != shape:
                raise ModelFileError(
                    f"graph input {name!r} is {got.type} {got.shape}, expected {dtype} with "
                    f"shape {['n', *shape[1:]]}"
                )
        for name, dtype in want_out.items():
            if outs[name].type != dtype:
                raise ModelFileError(
                    f"graph output {name!r} is {outs[name].type}, expected {dtype}"
                )

    # -- threshold ---------------------------------------------------------------------------
    @property
    def threshold(self) -> Threshold | None:
        """The decision threshold (a score strictly above it is flagged), or None."""
        return self._threshold

    @threshold.setter
    def threshold(self, value: Threshold | float | None) -> None:
        if value is None or isinstance(value, Threshold):
            self._threshold = value
            return
        if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)):
            raise InputError(f"threshold must be a number or a Threshold, got {value!r:.60}")
        if not math.isfinite(float(value)):
            raise InputError(f"threshold must be finite, got {value}")
        # a hand-set value has no calibration behind it: no rate is claimed for it
        method = "fpr" if self._threshold is None else self._threshold.method
        self._threshold = Threshold(
            value=float(value), method=method, rate=math.nan, n_calibration=0
        )

    def calibrate(self, X: Any, fpr: float = 0.01) -> Threshold:
        """Set the threshold so that a fraction ``fpr`` of held-out normal ``X`` is flagged
        (``Threshold.at_fpr``, as ``Detector.calibrate`` does)."""
        fpr = check_rate("fpr", fpr)
        method = "quantile"
        if self.metadata["threshold"] is not None:
            method = self.metadata["threshold"].get("calibration", "quantile")
        self._threshold = Threshold.at_fpr(self.score(X).scores, fpr, method=method)
        return self._threshold

    def save(self, path: str | Path) -> Path:
        """Write the model with the current threshold in its metadata (the graph unchanged),
        so an adjusted or re-calibrated threshold travels with the file."""
        import os

        import onnx

        from . import metadata as md

        meta = dict(self.metadata)
        if self._threshold is None:
            meta["threshold"] = None
        else:
            meta["threshold"] = self._threshold.to_dict()
            try:
                Threshold.from_dict(meta["threshold"])
            except ModelFileError:
                raise InputError(
                    "this threshold was set by hand without a calibration rate; call "
                    "calibrate(holdout, fpr=...) before saving, or set a Threshold"
                ) from None
        md.check_metadata(meta)
        model = onnx.ModelProto()
        model.ParseFromString(self._bytes)
        del model.metadata_props[:]
        entry = model.metadata_props.add()
        entry.key, entry.value = md.KEY, md.dumps(meta)
        path = Path(path)
        tmp = path.with_name(path.name + ".part")
        tmp.write_bytes(model.SerializeToString())
        os.replace(tmp, path)
        return path

    # -- scoring -----------------------------------------------------------------------------
    def _run(self, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
        try:
            return self._session.run(None, feeds)
        except Exception as exc:
            raise ModelFileError(f"onnxruntime failed to score: {str(exc)[:300]}") from None

    def score(self, X: Any) -> Scores:
        """Scores of ``X`` (one per row or image), labels at the threshold, maps for images."""
        if self.modality == "tabular":
            result = self._score_tabular(X)
        else:
            result = self._score_images(X)
        if self._threshold is not None:
            result.labels = self._threshold.apply(result.scores)
        return result

    def _score_tabular(self, X: Any) -> Scores:
        from ..tabular.input import as_tabular

        spec = self.metadata["input"]
        arr = as_tabular(
            X, n_features=spec["n_features"], feature_names=spec["feature_names"], name="X"
        )
        (scores,) = self._run({"X": np.ascontiguousarray(arr, dtype=np.float64)})
        return Scores(scores=self._checked(scores, len(arr)))

    def _score_images(self, X: Any) -> Scores:
        from ..image.input import as_images, resize_image

        spec = self.metadata["input"]
        s = spec["image_size"]
        source = as_images(X, name="images")
        out_h, out_w = source.output_size("resize")
        n = len(source)
        mixed = len(set(source.sizes)) > 1
        scores = np.empty(n, dtype=np.float64)
        maps = np.empty((0 if mixed else n, out_h, out_w), dtype=np.float32)
        own: list[np.ndarray] = [np.empty(0, np.float32)] * (n if mixed else 0)
        rh = _resize_matrix(s, out_h)
        rw = _resize_matrix(s, out_w)
        for start in range(0, n, self.batch_size):
            idx = range(start, min(start + self.batch_size, n))
            views = np.stack([resize_image(_rgb(source[i]), (s, s)) for i in idx])
            graph_scores, graph_maps = self._run({"images": views.astype(np.float32)})
            if graph_maps.shape != (len(idx), s, s):
                raise ModelFileError(
                    f"graph map has shape {graph_maps.shape}, expected (n, {s}, {s})"
                )
            if mixed:  # each map at its own image's size, as ImageDetector.score gives it
                m = [_own_size_map(graph_maps[k], s, source.sizes[i]) for k, i in enumerate(idx)]
                own[start : start + len(idx)] = m
                peaks = np.array([float(x.max()) for x in m])
            else:
                m = graph_maps if rh is None and rw is None else _resize_maps(graph_maps, rh, rw)
                maps[start : start + len(idx)] = m
                peaks = m.reshape(len(idx), -1).max(axis=1)
            if spec["score_is_map_max"]:
                scores[start : start + len(idx)] = peaks
            else:
                scores[start : start + len(idx)] = self._checked(graph_scores, len(idx))
        return Scores(scores=scores, maps=own if mixed else maps, index=list(source.names))

    @staticmethod
    def _checked(scores: np.ndarray, n: int) -> np.ndarray:
        scores = np.asarray(scores, dtype=np.float64).reshape(-1)
        if scores.shape != (n,):
            raise ModelFileError(f"the graph returned {scores.shape[0]} scores for {n} inputs")
        return scores

    def __repr__(self) -> str:
        return (
            f"OnnxDetector({str(self.path)!r}, detector={self.name!r}, threshold={self._threshold})"
        )


def _rgb(img: np.ndarray) -> np.ndarray:
    if img.ndim == 2:
        img = img[:, :, None]
    if img.shape[2] == 1:
        return np.repeat(img, 3, axis=2)
    return img[:, :, :3]


def _resize_matrix(n_in: int, n_out: int) -> np.ndarray | None:
    """float32 bilinear resizing matrix (the image detectors' own), or None for the identity."""
    return None if n_in == n_out else interp_matrix(n_in, n_out).astype(np.float32)


def _own_size_map(m: np.ndarray, s: int, size: tuple[int, int]) -> np.ndarray:
    """One (s, s) graph map resized to its image's ``size``."""
    return _resize_maps(m[None], _resize_matrix(s, size[0]), _resize_matrix(s, size[1]))[0]


def _resize_maps(maps: np.ndarray, rh: np.ndarray | None, rw: np.ndarray | None) -> np.ndarray:
    out = maps
    if rh is not None:
        out = np.einsum("oh,nhw->now", rh, out)
    if rw is not None:
        out = np.einsum("nhw,ow->nho", out, rw)
    return np.ascontiguousarray(out, dtype=np.float32)


__all__ = ["NormalcyError", "OnnxDetector"]
