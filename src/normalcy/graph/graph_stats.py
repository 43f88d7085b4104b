"""``graph_stats``: graph statistics fed to normalcy's tabular ``auto`` detector.

A strong cheap baseline for graph-level detection: every graph becomes one fixed-width row
of statistics (``graph.spectral_stats``: size and degrees, the normalised-Laplacian
spectrum with heat-kernel traces, hashed Weisfeiler-Lehman subtree histograms with
novelty against the training graphs, node-feature moments) and the tabular ``auto``
detector (a label-free, consensus-filtered ensemble of isolation forest, k-NN,
Mahalanobis, PCA and HBOS) learns normality on those rows. Nothing is tuned per data set.

A statistic that never varied over the training graphs carries no information about
normal variation; new graphs get the training value there (so ``auto`` does not rank
every graph that differs in it above all others). Graphs with a subtree never seen in
training are still caught by the WL novelty columns, which vary in training
(leave-one-out).

Localisation: a node's score is the mean over WL iterations of ``1 / (1 + training graphs
holding its subtree label)``: nodes whose neighbourhoods normal graphs never (or rarely)
show stand out.

References
----------
Shervashidze, N., Schweitzer, P., van Leeuwen, E. J., Mehlhorn, K. & Borgwardt, K. M.
Weisfeiler-Lehman Graph Kernels. JMLR 12, 2011.

Tsitsulin, A., Mottin, D., Karras, P., Bronstein, A. & Müller, E. NetLSD: Hearing the
Shape of a Graph. KDD 2018.

Zhao, L. & Akoglu, L. On Using Classification Datasets to Evaluate Graph Outlier
Detection: Peculiar Observations and New Insights. Big Data 2023 (graph kernels with a
one-class detector as baselines).
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from ..core.constraints import Integral, Interval, Options, Satisfies
from ..core.errors import ModelFileError
from ..core.registry import create, register
from ..core.scores import Scores
from ..core.state_spec import ArraySpec, StateSpec, verify_state
from .base import GraphDetector, graph_scores
from .input import EncodedGraphs
from .spectral_stats import MAX_VOCAB, WLVocabulary, _lookup, features, width_of, wl_labels

_PREFIX = "auto."


@register(
    "graph_stats",
    modality="graph",
    paper=(
        "Shervashidze et al. Weisfeiler-Lehman Graph Kernels. JMLR 2011; Tsitsulin et al. "
        "NetLSD. KDD 2018; statistics scored by normalcy's tabular auto detector"
    ),
    year=2011,
    can_localise=True,
)
class GraphStats(GraphDetector):
    """Spectral, WL-subtree, degree and node-feature statistics scored by tabular ``auto``.

    Parameters
    ----------
    wl_iterations:
        Weisfeiler-Lehman iterations (subtree depth).
    wl_width:
        Hash buckets per WL iteration (the histogram width).
    wl_scale:
        ``"log_count"``: WL bucket counts as ``log(1 + count)`` (the WL kernel counts
        subtrees); ``"share"``: counts divided by the node count.
    max_spectral_nodes:
        Larger graphs use the spectrum of their first this-many nodes.
    seed:
        Seed of the ``auto`` detector.
    """

    quick_params: ClassVar[dict[str, Any]] = {}
    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "wl_iterations": [Interval(Integral, 0, 10)],
        "wl_width": [Interval(Integral, 1, 4096)],
        "wl_scale": [Options(str, {"log_count", "share"})],
        "max_spectral_nodes": [Interval(Integral, 2, 20_000)],
        "seed": [Interval(Integral, 0, 2**32 - 1)],
    }

    def __init__(
        self,
        wl_iterations: int = 3,
        wl_width: int = 32,
        wl_scale: str = "log_count",
        max_spectral_nodes: int = 1000,
        seed: int = 0,
    ) -> None:
        self.wl_iterations = wl_iterations
        self.wl_width = wl_width
        self.wl_scale = wl_scale
        self.max_spectral_nodes = max_spectral_nodes
        self.seed = seed

    def _features(self, data: EncodedGraphs, vocab: WLVocabulary | None):
        return features(
            data,
            vocab,
            int(self.wl_iterations),
            int(self.wl_width),
            int(self.max_spectral_nodes),
            self.wl_scale,
        )

    def _auto(self):
        return create("auto", seed=int(self.seed))

    def _fit(self, data: EncodedGraphs) -> None:
        X, self.vocab_ = self._features(data, None)
        self.constant_ = np.ptp(X, axis=0) == 0
        self.fill_ = X[0].copy()
        self.auto_ = self._auto().fit(X)

    def _rows(self, data: EncodedGraphs) -> np.ndarray:
        X, _ = self._features(data, self.vocab_)
        return np.where(self.constant_[None, :], self.fill_[None, :], X)

    def _score(self, data: EncodedGraphs) -> Scores:
        scores = self.auto_.score(self._rows(data)).scores
        labels, owner = wl_labels(data.graphs, int(self.wl_iterations))
        rarity = np.zeros(len(owner))
        for it, lab in enumerate(labels):
            rarity += 1.0 / (1.0 + _lookup(self.vocab_.keys[it], self.vocab_.counts[it], lab))
        rarity /= len(labels)
        bounds = np.concatenate([[0], np.cumsum(data.sizes())])
        nodes = [rarity[a:b] for a, b in zip(bounds[:-1], bounds[1:], strict=True)]
        return graph_scores(data, scores, nodes)

    # -- persistence --------------------------------------------------------------------
    def _width(self) -> int:
        return width_of(self._n_features(), int(self.wl_iterations), int(self.wl_width))

    def _get_state(self):
        inner, inner_meta = self.auto_._get_state()
        arrays = {_PREFIX + k: v for k, v in inner.items()}
        for it, (keys, counts) in enumerate(zip(self.vocab_.keys, self.vocab_.counts, strict=True)):
            arrays[f"wl.keys.{it}"] = keys
            arrays[f"wl.counts.{it}"] = counts
        arrays["constant"] = self.constant_
        arrays["fill"] = self.fill_
        return arrays, {"auto_state": inner_meta, "auto_input": self.auto_._input_spec()}

    def _inner(self) -> tuple[Any, StateSpec]:
        auto = self._auto()
        auto._set_input_spec({"n_features": self._width(), "feature_names": None})
        return auto, auto._state_spec()

    def _state_spec(self) -> StateSpec:
        w = self._width()
        _, inner = self._inner()
        arrays: dict[str, ArraySpec] = {_PREFIX + k: v for k, v in inner.arrays.items()}
        bounds = dict(inner.dim_bounds)
        for it in range(int(self.wl_iterations) + 1):
            dim = f"wl_vocab_{it}"
            arrays[f"wl.keys.{it}"] = ArraySpec((dim,), "uint64")
            arrays[f"wl.counts.{it}"] = ArraySpec((dim,), "int64", value_range=(1, None))
            bounds[dim] = (0, MAX_VOCAB)
        arrays["constant"] = ArraySpec((w,), "bool")
        arrays["fill"] = ArraySpec((w,), "float64")
        expected = {"n_features": w, "feature_names": None}
        return StateSpec(
            arrays=arrays,
            meta={
                "auto_state": [
                    Satisfies(lambda v: isinstance(v, dict), "the auto detector's metadata")
                ],
                "auto_input": [Satisfies(lambda v: v == expected, str(expected))],
            },
            dims=dict(inner.dims),
            dim_bounds=bounds,
        )

    def _set_state(self, arrays, meta) -> None:
        auto, spec = self._inner()
        inner = {k[len(_PREFIX) :]: v for k, v in arrays.items() if k.startswith(_PREFIX)}
        verify_state(spec, inner, meta["auto_state"])  # the nested detector's own spec
        auto._set_state(inner, meta["auto_state"])
        auto.is_fitted_ = True
        keys, counts = [], []
        for it in range(int(self.wl_iterations) + 1):
            k = np.asarray(arrays[f"wl.keys.{it}"])
            if len(k) > 1 and not np.all(k[1:] > k[:-1]):
                raise ModelFileError(f"wl.keys.{it} must be strictly increasing")
            keys.append(k)
            counts.append(np.asarray(arrays[f"wl.counts.{it}"]))
        self.auto_ = auto
        self.vocab_ = WLVocabulary(keys, counts)
        self.constant_ = np.asarray(arrays["constant"], dtype=bool)
        self.fill_ = np.asarray(arrays["fill"], dtype=np.float64)
