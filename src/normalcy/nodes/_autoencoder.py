"""The training loop, scoring and safe state shared by the graph autoencoders (DOMINANT,
AnomalyDAE).

Both follow PyGOD's protocol: full-batch training with Adam on the mean of the per-node
scores ``alpha_attr * attribute error + (1 - alpha_attr) * structure error``, the score of
a node being that same combination computed by the trained model (no dropout).

One departure, ``scale_errors=True`` (the default): in the score each error is divided by
its mean over the training graph's nodes (saved with the model) before the two are
weighted. The raw errors live on scales set by the data (attribute error by the feature
magnitudes, structure error by the degrees), so PyGOD's raw sum is in practice decided by
whichever is larger (on inj_cora the structure error, and contextual outliers are lost);
``scale_errors=False`` gives PyGOD's formula. Training uses PyGOD's loss either way.

Weights are
saved as plain arrays (``normalcy.torch_helpers``); the state spec is the module built on
torch's meta device, so a model file's shapes are checked before anything is loaded.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from ..core.constraints import Integral, Interval, Options, Real, Satisfies
from ..core.state_spec import StateSpec
from ..graph.graphs import Graph
from ..progress import progress_bar
from ..torch_helpers import load_module_arrays, module_arrays, resolve_device, torch_session
from . import _recon
from .base import NodeDetector

DEVICE = [
    Options(str, {"auto", "cpu"}),
    Satisfies(
        lambda d: (
            isinstance(d, str)
            and (d == "cuda" or (d.startswith("cuda:") and d[5:].isdigit() and len(d) <= 8))
        ),
        "'cuda' or 'cuda:<index>'",
    ),
]
SEED = [Interval(Integral, 0, 2**32 - 1)]
UNIT = [Interval(Real, 0, 1)]
WIDTH = [Interval(Integral, 1, 4096)]
LEARNING_RATE = [Interval(Real, 0, 10, closed="right")]
COMMON_CONSTRAINTS: dict[str, list[Any]] = {
    "dropout": [Interval(Real, 0, 1, closed="left")],
    "weight_decay": [Interval(Real, 0, 1)],
    "lr": LEARNING_RATE,
    "epochs": [Interval(Integral, 1, 100_000)],
    "device": DEVICE,
    "scale_errors": [bool],
    "verbose": [bool],
    "seed": SEED,
}


class GraphAutoencoder(NodeDetector):
    """Base of the node autoencoders: subclasses build the module and compute the two
    per-node errors (``_errors``); this class trains, scores and saves."""

    prefix: ClassVar[str] = "model."
    lr: float
    epochs: int
    weight_decay: float
    device: str
    verbose: bool
    seed: int

    # -- subclass hooks ---------------------------------------------------------------------
    def _build(self, n_features: int, n_nodes: int) -> Any:
        raise NotImplementedError

    def _errors(self, model: Any, x: Any, ei: Any, generator: Any) -> tuple[Any, Any]:
        """(attribute error, structure error), one value per node each."""
        raise NotImplementedError

    def _attr_weight(self) -> float:
        """Weight of the attribute error in the score (the rest goes to structure)."""
        raise NotImplementedError

    # -- fit / score -----------------------------------------------------------------------
    scale_errors: bool

    def _combine(self, attr: Any, struct: Any) -> Any:
        w = float(self._attr_weight())
        return w * attr + (1.0 - w) * struct

    def _fit(self, data: tuple[Graph, np.ndarray]) -> None:
        graph, feats = data
        self.n_nodes_ = graph.n_nodes
        with torch_session(self.seed) as torch:
            self.device_ = resolve_device(self.device)
            model = self._build(feats.shape[1], graph.n_nodes).to(self.device_)
            x, ei = _recon.tensors(graph, feats, self.device_)
            optimiser = torch.optim.Adam(
                model.parameters(), lr=float(self.lr), weight_decay=float(self.weight_decay)
            )
            generator = torch.Generator().manual_seed(int(self.seed))
            model.train()
            with progress_bar(self.name or type(self).__name__, self.epochs, self.verbose) as step:
                for _ in range(self.epochs):
                    attr, struct = self._errors(model, x, ei, generator)
                    loss = self._combine(attr, struct).mean()
                    optimiser.zero_grad()
                    loss.backward()
                    optimiser.step()
                    step(loss=float(loss.detach()))
            model.eval()
        self.model_ = model
        attr, struct = self._node_errors(graph, feats)
        self.error_scale_ = np.array(
            [max(float(attr.mean()), 1e-12), max(float(struct.mean()), 1e-12)]
        )

    def node_errors(self, X: Any) -> tuple[np.ndarray, np.ndarray]:
        """Attribute and structure reconstruction errors of every node of ``X`` (the two
        parts of the score), float64."""
        self._require_fitted()
        graph, feats = self._check_score_input(X)
        return self._node_errors(graph, feats)

    def _node_errors(self, graph: Graph, feats: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        with torch_session() as torch, torch.no_grad():
            x, ei = _recon.tensors(graph, feats, self.device_)
            generator = torch.Generator().manual_seed(int(self.seed))
            attr, struct = self._errors(self.model_, x, ei, generator)
        return (
            attr.detach().cpu().numpy().astype(np.float64),
            struct.detach().cpu().numpy().astype(np.float64),
        )

    def _score(self, data: tuple[Graph, np.ndarray]) -> np.ndarray:
        attr, struct = self._node_errors(*data)
        if self.scale_errors:
            attr, struct = attr / self.error_scale_[0], struct / self.error_scale_[1]
        w = float(self._attr_weight())
        return w * attr + (1.0 - w) * struct

    # -- state -----------------------------------------------------------------------------
    def _get_state(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        arrays = module_arrays(self.model_, self.prefix)
        arrays["error_scale"] = self.error_scale_.copy()
        return arrays, {"n_nodes": int(self.n_nodes_)}

    def _module_spec(self) -> dict[str, Any]:
        from ..series._torch_utils import module_spec

        return module_spec(lambda: self._build(self.n_features_in_, 1), self.prefix)

    def _state_spec(self) -> StateSpec:
        from ..core.state_spec import ArraySpec
        from ..graph.graphs import MAX_NODES

        return StateSpec(
            arrays={
                **self._module_spec(),
                "error_scale": ArraySpec((2,), "float64", value_range=(1e-12, 1e300)),
            },
            meta={"n_nodes": [Interval(Integral, 2, MAX_NODES)]},
        )

    def _set_state(self, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
        self.n_nodes_ = int(meta["n_nodes"])
        self.error_scale_ = np.array(arrays["error_scale"], dtype=np.float64)
        with torch_session():
            self.device_ = resolve_device(self.device)
            model = self._build(self.n_features_in_, self.n_nodes_)
            load_module_arrays(model, arrays, self.prefix)
            self.model_ = model.to(self.device_).eval()
