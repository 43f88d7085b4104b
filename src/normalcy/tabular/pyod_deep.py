"""PyOD's deep tabular detectors behind normalcy's API: DeepSVDD, AutoEncoder and DIF.

The networks and their training are PyOD's own. Around them normalcy adds what PyOD leaves
out: columns are standardised with constant training columns dropped (PyOD's scaling
divides by a zero deviation), every run is seeded and pinned to ``n_threads`` CPU threads
without leaking global random state, and the fitted state is saved as plain arrays
(``state_dict`` tensors -> numpy -> safetensors; scikit-learn parts through skops), never
pickled: on load the modules are rebuilt from the parameters and the input width.

All three support ``save``/``nc.load`` with bit-identical scores.

DIF note: PyOD standardises each ensemble member's representation with statistics of the
*batch being scored*, so a row's score depends on the rows scored with it (one row alone
scores the same as any other). Here the statistics are learned on the training data and
reused, which makes scores per-row and reproducible; nothing else about DIF changes.
"""

from __future__ import annotations

import warnings
from dataclasses import replace
from typing import Any, ClassVar

import numpy as np

from ..core.constraints import Integral, Interval, Options
from ..core.errors import InputError, ModelFileError
from ..core.estimator_state import dump_estimator, load_estimator
from ..core.registry import register
from ..core.state_spec import ArraySpec, StateSpec
from .base import TabularDetector
from .common import BATCH, DECAY, DROPOUT, EPOCHS, LAYERS, N_THREADS, RATE, SEED
from .preprocessing import ColumnScaler, add_drift, finite_span
from .torch_utils import load_module_arrays, module_arrays, module_spec, seeded_torch

POSITIVE = (float(np.finfo(float).smallest_subnormal), None)


class _PyODDeep(TabularDetector):
    """Shared plumbing: scaling, seeding, drift, span; subclasses build and persist models."""

    def _build_and_fit(self, Z: np.ndarray) -> np.ndarray:
        """Fit the PyOD model on ``Z``; return its training scores."""
        raise NotImplementedError

    def _model_scores(self, Z: np.ndarray) -> np.ndarray:
        return np.asarray(self.model_.decision_function(Z), dtype=np.float64)

    def _fit(self, X: np.ndarray) -> None:
        self.scaler_ = ColumnScaler().fit(X)
        self.model_ = None
        self.span_ = 1.0
        if self.scaler_.n_kept == 0:
            return
        Z = self.scaler_.transform(X)
        with seeded_torch(self.seed, self.n_threads), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                train = self._build_and_fit(Z)
            except ValueError as exc:  # PyOD's own refusals (e.g. a collapsed DeepSVDD centre)
                raise InputError(
                    f"{self.name} could not be fitted on data of shape {X.shape}: {exc}"
                ) from None
        self.span_ = finite_span(train)

    def _score(self, X: np.ndarray) -> np.ndarray:
        drift = self.scaler_.drift(X)
        if self.model_ is None:
            return drift
        with seeded_torch(self.seed, self.n_threads), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            scores = self._model_scores(self.scaler_.transform(X))
        big = np.finfo(np.float64).max / 4
        scores = np.nan_to_num(scores, nan=big, posinf=big, neginf=-big)
        return add_drift(scores, drift, self.span_)

    @staticmethod
    def _batch(batch_size: int, n: int) -> int:
        return int(max(2, min(int(batch_size), n)))

    def _get_state(self):
        arrays = self.scaler_.get_state()
        arrays["span"] = np.array([self.span_])
        meta: dict[str, Any] = {"has_model": self.model_ is not None}
        if self.model_ is not None:
            more, extra = self._model_state()
            arrays.update(more)
            meta.update(extra)
        return arrays, meta

    def _state_spec(self) -> StateSpec:
        d = self._n_features()
        model = StateSpec(
            arrays={
                "span": ArraySpec((1,), "float64", value_range=(0.0, None)),
                # the model's arrays are present exactly when has_model (checked on load)
                **{k: replace(v, optional=True) for k, v in self._model_spec().items()},
            },
            meta={"has_model": [bool], **self._model_meta_spec()},
            optional_meta=frozenset(self._model_meta_spec()),
        )
        return ColumnScaler.state_spec(d).merged(model)

    def _set_state(self, arrays, meta):
        has_model = bool(meta["has_model"])
        n_kept = int(np.count_nonzero(arrays["scaler.keep"]))
        if has_model != (n_kept > 0):
            raise ModelFileError(f"has_model is {has_model} but {n_kept} columns are kept")
        missing = sorted(set(self._model_spec()) - set(arrays)) if has_model else []
        extra = [k for k in self._model_spec() if k in arrays] if not has_model else []
        absent = sorted(set(self._model_meta_spec()) - set(meta)) if has_model else []
        if missing or extra or absent:
            raise ModelFileError(
                f"the model's arrays/metadata disagree with has_model={has_model} "
                f"(missing {(missing + absent)[:5]}, unexpected {extra[:5]})"
            )
        self.scaler_ = ColumnScaler.from_state(arrays)
        self.span_ = float(arrays["span"][0])
        self.model_ = None
        if has_model:
            with seeded_torch(self.seed, self.n_threads):
                self._load_model(arrays, meta)

    def _model_spec(self) -> dict[str, ArraySpec]:
        """Arrays of the fitted model, their input width named ``k``."""
        raise NotImplementedError

    def _model_meta_spec(self) -> dict[str, list[Any]]:
        return {}

    def _model_state(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        raise NotImplementedError

    def _load_model(self, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
        raise NotImplementedError


@register(
    "autoencoder",
    modality="tabular",
    paper="Aggarwal. Outlier Analysis, ch. 3 (autoencoder reconstruction error). Springer 2017",
    year=2017,
)
class AutoEncoderDetector(_PyODDeep):
    """Plain autoencoder (PyOD ``AutoEncoder``): the reconstruction error is the score.

    Parameters are PyOD's (``hidden_neuron_list``, ``epoch_num``, ``batch_size``, ``lr``,
    ``dropout_rate``, ``batch_norm``, ``weight_decay``) plus ``seed`` and ``n_threads``.
    The network is ``d -> 64 -> 32 -> 64 -> d`` by default.

    References
    ----------
    Aggarwal. Outlier Analysis, 2nd ed., chapter 3. Springer 2017.
    Zhao, Nasrullah & Li. PyOD: A Python Toolbox for Scalable Outlier Detection. JMLR 2019.
    """

    quick_params: ClassVar[dict[str, Any]] = {"epoch_num": 2}
    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "hidden_neuron_list": LAYERS,
        "epoch_num": EPOCHS,
        "batch_size": BATCH,
        "lr": RATE,
        "dropout_rate": DROPOUT,
        "batch_norm": [bool],
        "weight_decay": DECAY,
        "seed": SEED,
        "n_threads": N_THREADS,
    }

    def __init__(
        self,
        hidden_neuron_list: tuple[int, ...] | list[int] = (64, 32),
        epoch_num: int = 10,
        batch_size: int = 32,
        lr: float = 1e-3,
        dropout_rate: float = 0.2,
        batch_norm: bool = True,
        weight_decay: float = 1e-5,
        seed: int = 0,
        n_threads: int = 1,
    ) -> None:
        self.hidden_neuron_list = hidden_neuron_list
        self.epoch_num = epoch_num
        self.batch_size = batch_size
        self.lr = lr
        self.dropout_rate = dropout_rate
        self.batch_norm = batch_norm
        self.weight_decay = weight_decay
        self.seed = seed
        self.n_threads = n_threads

    def _make(self, n: int) -> Any:
        from pyod.models.auto_encoder import AutoEncoder

        return AutoEncoder(
            preprocessing=False,
            lr=self.lr,
            epoch_num=int(self.epoch_num),
            batch_size=self._batch(self.batch_size, n),
            device="cpu",
            random_state=int(self.seed),
            verbose=0,
            optimizer_params={"weight_decay": self.weight_decay},
            hidden_neuron_list=[int(h) for h in self.hidden_neuron_list],
            batch_norm=bool(self.batch_norm),
            dropout_rate=float(self.dropout_rate),
        )

    def _build_and_fit(self, Z: np.ndarray) -> np.ndarray:
        self.model_ = self._make(Z.shape[0]).fit(Z)
        self.batch_ = int(self.model_.batch_size)
        return self.model_.decision_scores_

    def _model_state(self):
        return module_arrays(self.model_.model, "model."), {"batch_size": self.batch_}

    def _built(self, d: int, batch: int = 2) -> Any:
        model = self._make(batch)
        model.feature_size = d
        model.build_model()
        return model

    def _model_spec(self) -> dict[str, ArraySpec]:
        return module_spec(lambda d: self._built(d).model, "model.")

    def _model_meta_spec(self) -> dict[str, list[Any]]:
        return {"batch_size": [Interval(Integral, 2, max(2, int(self.batch_size)))]}

    def _load_model(self, arrays, meta):
        self.batch_ = int(meta["batch_size"])
        model = self._built(self.scaler_.n_kept, self.batch_)
        load_module_arrays(model.model, arrays, "model.")
        self.model_ = model

    # -- hooks for mean-shift scoring (normalcy.tabular.mss) -------------------------------
    def _mss_space(self, X: np.ndarray) -> np.ndarray:
        return self.scaler_.transform(X)

    def _mss_error(self, target: np.ndarray, inputs: np.ndarray) -> np.ndarray:
        """Euclidean distance between ``target`` and the reconstruction of ``inputs``."""
        with seeded_torch(self.seed, self.n_threads) as torch:
            self.model_.model.eval()
            with torch.no_grad():
                recon = self.model_.model(torch.as_tensor(inputs, dtype=torch.float32))
        return np.linalg.norm(target - recon.numpy().astype(np.float64), axis=1)


@register(
    "deepsvdd",
    modality="tabular",
    paper="Ruff et al. Deep One-Class Classification. ICML 2018",
    year=2018,
)
class DeepSVDDDetector(_PyODDeep):
    """Deep SVDD (PyOD ``DeepSVDD``): distance to a hypersphere centre in a learned space.

    Parameters are PyOD's (``hidden_neurons``, ``epochs``, ``batch_size``,
    ``learning_rate``, ``dropout_rate``, ``l2_regularizer``, ``use_ae``) plus ``seed`` and
    ``n_threads``. PyOD's default of 100 epochs is lowered to 30 for CPU use.

    References
    ----------
    Ruff, Vandermeulen, Görnitz, Deecke, Siddiqui, Binder, Müller & Kloft. Deep One-Class
    Classification. ICML 2018.
    """

    quick_params: ClassVar[dict[str, Any]] = {"epochs": 2}
    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "hidden_neurons": LAYERS,
        "epochs": EPOCHS,
        "batch_size": BATCH,
        "learning_rate": RATE,
        "dropout_rate": DROPOUT,
        "l2_regularizer": DECAY,
        "use_ae": [bool],
        "seed": SEED,
        "n_threads": N_THREADS,
    }

    def __init__(
        self,
        hidden_neurons: tuple[int, ...] | list[int] = (64, 32),
        epochs: int = 30,
        batch_size: int = 32,
        learning_rate: float = 1e-4,
        dropout_rate: float = 0.2,
        l2_regularizer: float = 0.5e-6,
        use_ae: bool = False,
        seed: int = 0,
        n_threads: int = 1,
    ) -> None:
        self.hidden_neurons = hidden_neurons
        self.epochs = epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.dropout_rate = dropout_rate
        self.l2_regularizer = l2_regularizer
        self.use_ae = use_ae
        self.seed = seed
        self.n_threads = n_threads

    def _make(self, d: int, n: int) -> Any:
        from pyod.models.deep_svdd import DeepSVDD

        return DeepSVDD(
            n_features=d,
            use_ae=bool(self.use_ae),
            hidden_neurons=[int(h) for h in self.hidden_neurons],
            epochs=int(self.epochs),
            batch_size=self._batch(self.batch_size, n),
            dropout_rate=float(self.dropout_rate),
            l2_regularizer=float(self.l2_regularizer),
            preprocessing=False,
            verbose=0,
            random_state=int(self.seed),
            learning_rate=float(self.learning_rate),
        )

    def _inner(self, d: int) -> Any:
        from pyod.models.deep_svdd import InnerDeepSVDD

        m = self._make(d, 2)
        return InnerDeepSVDD(
            d,
            use_ae=m.use_ae,
            hidden_neurons=m.hidden_neurons,
            hidden_activation=m.hidden_activation,
            output_activation=m.output_activation,
            dropout_rate=m.dropout_rate,
            l2_regularizer=m.l2_regularizer,
        )

    def _build_and_fit(self, Z: np.ndarray) -> np.ndarray:
        self.model_ = self._make(Z.shape[1], Z.shape[0]).fit(Z)
        self.model_.best_model_dict = None  # a copy of the weights already in model_
        return self.model_.decision_scores_

    def _model_state(self):
        arrays = module_arrays(self.model_.model_, "model.")
        arrays["center"] = self.model_.c_.detach().cpu().numpy().copy()
        return arrays, {}

    def _model_spec(self) -> dict[str, ArraySpec]:
        out = module_spec(self._inner, "model.")
        width = int(self.hidden_neurons[-1])
        out["center"] = ArraySpec((width,), "float32")
        return out

    def _load_model(self, arrays, meta):
        import torch

        d = self.scaler_.n_kept
        self.model_ = self._make(d, 2)
        self.model_.model_ = self._inner(d)
        load_module_arrays(self.model_.model_, arrays, "model.")
        self.model_.c_ = torch.from_numpy(np.array(arrays["center"]))


@register(
    "dif",
    modality="tabular",
    paper="Xu et al. Deep Isolation Forest for Anomaly Detection. IEEE TKDE 2023",
    year=2023,
)
class DIFDetector(_PyODDeep):
    """Deep Isolation Forest (PyOD ``DIF``): isolation forests on random deep representations.

    Parameters are PyOD's (``n_ensemble``, ``n_estimators``, ``max_samples``,
    ``representation_dim``, ``hidden_neurons``, ``hidden_activation``, ``batch_size``) plus
    ``seed`` and ``n_threads``. PyOD's 50 ensemble members are lowered to 20 for CPU use
    (its scoring loops over rows in Python). Representation statistics come from the
    training data (see the module docstring).

    References
    ----------
    Xu, Pang, Wang & Zhao. Deep Isolation Forest for Anomaly Detection. IEEE TKDE 2023.
    """

    quick_params: ClassVar[dict[str, Any]] = {"n_ensemble": 3}
    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "n_ensemble": [Interval(Integral, 1, 1000)],
        "n_estimators": [Interval(Integral, 1, 10_000)],
        "max_samples": [Interval(Integral, 1, 10_000_000)],
        "representation_dim": [Interval(Integral, 1, 100_000)],
        "hidden_neurons": LAYERS,
        "hidden_activation": [
            Options(str, {"elu", "identity", "leaky_relu", "relu", "sigmoid", "softplus", "tanh"})
        ],
        "batch_size": BATCH,
        "seed": SEED,
        "n_threads": N_THREADS,
    }

    def __init__(
        self,
        n_ensemble: int = 20,
        n_estimators: int = 6,
        max_samples: int = 256,
        representation_dim: int = 20,
        hidden_neurons: tuple[int, ...] | list[int] = (500, 100),
        hidden_activation: str = "tanh",
        batch_size: int = 1000,
        seed: int = 0,
        n_threads: int = 1,
    ) -> None:
        self.n_ensemble = n_ensemble
        self.n_estimators = n_estimators
        self.max_samples = max_samples
        self.representation_dim = representation_dim
        self.hidden_neurons = hidden_neurons
        self.hidden_activation = hidden_activation
        self.batch_size = batch_size
        self.seed = seed
        self.n_threads = n_threads

    def _make(self, n: int) -> Any:
        return _StableDIF(
            batch_size=int(self.batch_size),
            representation_dim=int(self.representation_dim),
            hidden_neurons=[int(h) for h in self.hidden_neurons],
            hidden_activation=self.hidden_activation,
            n_ensemble=int(self.n_ensemble),
            n_estimators=int(self.n_estimators),
            max_samples=int(min(self.max_samples, n)),
            random_state=int(self.seed),
            device="cpu",
        )

    def _network(self, d: int) -> Any:
        from pyod.models.dif import MLPnet

        return MLPnet(
            n_features=d,
            n_hidden=[int(h) for h in self.hidden_neurons],
            n_output=int(self.representation_dim),
            activation=self.hidden_activation,
            skip_connection=False,
        )

    def _build_and_fit(self, Z: np.ndarray) -> np.ndarray:
        self.model_ = self._make(Z.shape[0]).fit(Z)
        self.model_.x_reduced_lst = []  # training representations: not needed to score
        return self.model_.decision_scores_

    def _model_state(self):
        m = self.model_
        arrays = {"minmax": dump_estimator(m.minmax_scaler)}
        for i, (net, forest) in enumerate(zip(m.net_lst, m.iForest_lst, strict=True)):
            arrays.update(module_arrays(net, f"net{i}."))
            arrays[f"forest{i}"] = dump_estimator(forest)
            arrays[f"rep{i}.mean"], arrays[f"rep{i}.scale"] = m.rep_stats_[i]
        return arrays, {"members": len(m.net_lst)}

    def _model_spec(self) -> dict[str, ArraySpec]:
        net = module_spec(self._network, "")
        rep = int(self.representation_dim)
        out = {"minmax": ArraySpec(("minmax_blob",), "uint8")}
        for i in range(int(self.n_ensemble)):
            out.update({f"net{i}.{k}": v for k, v in net.items()})
            out[f"forest{i}"] = ArraySpec((f"forest{i}_blob",), "uint8")
            out[f"rep{i}.mean"] = ArraySpec((rep,), "float64")
            out[f"rep{i}.scale"] = ArraySpec((rep,), "float64", value_range=POSITIVE)
        return out

    def _model_meta_spec(self) -> dict[str, list[Any]]:
        return {"members": [Options(int, {int(self.n_ensemble)})]}

    def _load_model(self, arrays, meta):
        from sklearn.ensemble import IsolationForest
        from sklearn.preprocessing import MinMaxScaler

        d = self.scaler_.n_kept
        m = self._make(2)
        m.minmax_scaler = load_estimator(arrays["minmax"])
        if not isinstance(m.minmax_scaler, MinMaxScaler):
            raise ModelFileError("state array minmax is not a MinMaxScaler")
        m.net_lst, m.iForest_lst, m.rep_stats_, m.x_reduced_lst = [], [], [], []
        for i in range(int(meta["members"])):
            net = self._network(d)
            load_module_arrays(net, arrays, f"net{i}.")
            m.net_lst.append(net)
            forest = load_estimator(arrays[f"forest{i}"])
            if not isinstance(forest, IsolationForest) or forest.n_features_in_ != int(
                self.representation_dim
            ):
                raise ModelFileError(f"state array forest{i} is not a forest on the representation")
            m.iForest_lst.append(forest)
            m.rep_stats_.append((arrays[f"rep{i}.mean"], arrays[f"rep{i}.scale"]))
        self.model_ = m


def _stable_dif_class() -> type:
    from pyod.models.dif import DIF

    class StableDIF(DIF):
        """PyOD's DIF with representation statistics learned once, on the training data."""

        def _deep_representation(self, net, X):
            import torch

            with torch.no_grad():
                rows = [
                    net(torch.as_tensor(X[i : i + self.batch_size], dtype=torch.float32))
                    for i in range(0, X.shape[0], self.batch_size)
                ]
            rep = torch.cat(rows).numpy().astype(np.float64)
            if not hasattr(self, "rep_stats_"):
                self.rep_stats_ = []
            index = next((i for i, n in enumerate(self.net_lst) if n is net), None)
            if index is None:  # called by fit() before the network joins net_lst
                scale = rep.std(axis=0)
                self.rep_stats_.append((rep.mean(axis=0), np.where(scale > 0, scale, 1.0)))
                mean, scale = self.rep_stats_[-1]
            else:
                mean, scale = self.rep_stats_[index]
            return np.tanh((rep - mean) / scale)

    return StableDIF


def _StableDIF(**kwargs: Any) -> Any:  # noqa: N802  (a class factory: torch is imported lazily)
    return _stable_dif_class()(**kwargs)
