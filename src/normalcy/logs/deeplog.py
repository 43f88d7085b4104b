"""DeepLog (Du et al., CCS 2017): an LSTM predicts the next log event; an event outside its
top-``g`` predictions is anomalous.

The model reads the ``window`` (the paper's ``h``) events before position ``t`` of a session
and outputs a probability for every event key; the paper flags the event at ``t`` when it
is not among the ``top_k`` (``g``) most probable keys, and a session when any of its events
is flagged. Here:

* **Every event is predicted**, the first ones too: the history is left-padded with a
  padding token, so a session shorter than ``window`` is scored like any other. One more
  target, *end of session*, is predicted after the last event, so a session cut short (or
  an empty one) can be flagged as well.
* **Unseen events** (keys never seen in ``fit``, code 0) are always anomalous, as in the
  paper (a new key is outside every top-``g``).
* **Per-event score** (``Scores.maps``): ``miss + s / (1 + s)``, where ``miss`` is 1 when
  the event is outside the top ``top_k`` predictions (or unseen) and ``s = -log p`` its
  surprise under the model (unseen events: ``miss = 1`` and the tie-break 1). Events
  inside the top-``k`` score below 1, flagged ones at least 1.
* **Session score**: the number of flagged events (the end-of-session prediction
  included) plus the largest tie-break ``s / (1 + s)`` of the session (below 1). Sessions
  are thus ranked first by the paper's count of top-``g`` misses and then by their most
  surprising event, a continuous score that ``calibrate`` can threshold at a false-positive
  rate. The paper's decision, a session with any miss, is ``score >= 1``; normalcy's
  threshold comes from held-out normal sessions instead.

Model: an embedding of the event codes (``embedding_dim``; the paper feeds one-hot
vectors, an embedding is the common equivalent, e.g. deep-loglizer), ``n_layers`` LSTM
layers of ``hidden_size`` units and a linear layer to the key logits, trained with
cross-entropy and Adam for ``epochs`` epochs on every (history, next event) pair of the
normal sessions. Identical pairs are merged and weighted by their count (the same loss,
far fewer steps on repetitive logs); scoring predicts each distinct history once.

Not implemented: DeepLog's parameter-value model (an LSTM per log key over the key's
numeric parameters) and its online update from operator feedback.

References
----------
Du, M., Li, F., Zheng, G. & Srikumar, V. DeepLog: Anomaly Detection and Diagnosis from
System Logs through Deep Learning. ACM CCS 2017.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from ..core.constraints import Integral, Interval, Options, Real, Satisfies
from ..core.registry import register
from ..core.state_spec import ArraySpec, StateSpec
from ..torch_helpers import (
    load_module_arrays,
    module_arrays,
    require_torch,
    resolve_device,
    torch_session,
)
from .base import LogDetector, session_scores
from .input import EncodedSessions

_PREFIX = "model."
_SCORE_BATCH = 8192
MAX_WINDOW = 1000


def _build(n_inputs: int, n_outputs: int, emb: int, hidden: int, layers: int):
    torch = require_torch()
    nn = torch.nn

    class NextEvent(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.embed = nn.Embedding(n_inputs, emb)
            self.lstm = nn.LSTM(emb, hidden, num_layers=layers, batch_first=True)
            self.out = nn.Linear(hidden, n_outputs)

        def forward(self, x):
            h, _ = self.lstm(self.embed(x))
            return self.out(h[:, -1])

    return NextEvent()


def windows(codes: list[np.ndarray], h: int, pad: int) -> tuple[np.ndarray, np.ndarray]:
    """(history, target) pairs of every event and of the end of every session.

    Row ``[pad..., c_{t-h}, ..., c_{t-1}, c_t]``: ``h`` history codes then the target; the
    end of session is target 0 (code 0 never is a training target: unseen keys do not
    occur in ``fit``). Returns the (n_pairs, h + 1) matrix and each session's row offsets.
    """
    total = sum(len(c) + 1 for c in codes)
    out = np.full((total, h + 1), pad, dtype=np.int64)
    offsets = np.zeros(len(codes) + 1, dtype=np.int64)
    row = 0
    for i, c in enumerate(codes):
        seq = np.concatenate([np.full(h, pad, dtype=np.int64), c, [0]])
        n = len(c) + 1
        if n:
            view = np.lib.stride_tricks.sliding_window_view(seq, h + 1)
            out[row : row + n] = view[:n]
        row += n
        offsets[i + 1] = row
    return out, offsets


@register(
    "deeplog",
    modality="logs",
    paper=(
        "Du et al. DeepLog: Anomaly Detection and Diagnosis from System Logs through Deep "
        "Learning. ACM CCS 2017"
    ),
    year=2017,
    can_localise=True,
)
class DeepLog(LogDetector):
    """LSTM next-event prediction; events outside the top-k are anomalous.

    Parameters
    ----------
    window : int
        History length ``h`` (the paper's default 10).
    top_k : int
        ``g``: an event is normal when among the ``top_k`` most probable next keys (the
        paper's 9 on HDFS's 29 keys).
    embedding_dim, hidden_size, n_layers : int
        Event embedding size, LSTM units per layer (paper: 64) and layers (paper: 2).
    epochs, batch_size, lr : int, int, float
        Adam training on cross-entropy: ``epochs`` passes over the (history, next event)
        pairs in batches of ``batch_size`` pairs.
    min_steps : int
        At least this many Adam steps (more passes on small data sets, where ``epochs``
        passes would leave the model undertrained).
    device : str
        ``"auto"``, ``"cpu"`` or ``"cuda[:i]"``.
    seed : int
        Seeds weight initialisation and batch order.
    """

    quick_params: ClassVar[dict[str, Any]] = {
        "hidden_size": 16,
        "epochs": 2,
        "n_layers": 1,
        "min_steps": 200,
    }
    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "window": [Interval(Integral, 1, MAX_WINDOW)],
        "top_k": [Interval(Integral, 1, 100_000)],
        "embedding_dim": [Interval(Integral, 1, 4096)],
        "hidden_size": [Interval(Integral, 1, 4096)],
        "n_layers": [Interval(Integral, 1, 8)],
        "epochs": [Interval(Integral, 1, 10_000)],
        "batch_size": [Interval(Integral, 1, 1_000_000)],
        "min_steps": [Interval(Integral, 0, 10_000_000)],
        "lr": [Interval(Real, 0, 10, closed="right")],
        "device": [
            Options(str, {"auto", "cpu"}),
            Satisfies(
                lambda d: isinstance(d, str) and d.startswith("cuda") and len(d) <= 9,
                "'cuda' or 'cuda:<index>'",
            ),
        ],
        "seed": [Interval(Integral, 0, 2**32 - 1)],
    }

    def __init__(
        self,
        window: int = 10,
        top_k: int = 9,
        embedding_dim: int = 32,
        hidden_size: int = 64,
        n_layers: int = 2,
        epochs: int = 10,
        batch_size: int = 256,
        min_steps: int = 1000,
        lr: float = 1e-3,
        device: str = "cpu",
        seed: int = 0,
    ) -> None:
        self.window = window
        self.top_k = top_k
        self.embedding_dim = embedding_dim
        self.hidden_size = hidden_size
        self.n_layers = n_layers
        self.epochs = epochs
        self.batch_size = batch_size
        self.min_steps = min_steps
        self.lr = lr
        self.device = device
        self.seed = seed

    def _pad(self) -> int:
        return self._n_codes()  # input tokens: codes 0..V, then the padding token

    def _model(self):
        n = self._n_codes()
        return _build(n + 1, n, int(self.embedding_dim), int(self.hidden_size), int(self.n_layers))

    # -- training -------------------------------------------------------------------------
    def _fit(self, data: EncodedSessions) -> None:
        h = int(self.window)
        pairs, _ = windows(data.codes, h, self._pad())
        unique, counts = np.unique(pairs, axis=0, return_counts=True)
        with torch_session(self.seed) as torch:
            device = resolve_device(self.device)
            model = self._model().to(device)
            optimiser = torch.optim.Adam(model.parameters(), lr=float(self.lr))
            x = torch.from_numpy(unique[:, :h]).to(device)
            y = torch.from_numpy(unique[:, h]).to(device)
            w = torch.from_numpy(counts.astype(np.float32)).to(device)
            n = len(unique)
            # batches of about batch_size *pairs*: the merged rows carry their counts
            per_batch = max(1, int(round(n * int(self.batch_size) / max(len(pairs), 1))))
            loss_fn = torch.nn.CrossEntropyLoss(reduction="none")
            model.train()
            steps_per_epoch = -(-n // per_batch)
            epochs = max(int(self.epochs), -(-int(self.min_steps) // steps_per_epoch))
            for _ in range(epochs):
                order = torch.randperm(n, device=device)
                for lo in range(0, n, per_batch):
                    idx = order[lo : lo + per_batch]
                    loss = (loss_fn(model(x[idx]), y[idx]) * w[idx]).sum() / w[idx].sum()
                    optimiser.zero_grad()
                    loss.backward()
                    optimiser.step()
            model.eval()
        self.model_ = model.cpu()

    # -- scoring --------------------------------------------------------------------------
    def _pair_scores(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per (history, target) row: miss (0/1) and the tie-break s / (1 + s)."""
        h = int(self.window)
        unique, inverse = np.unique(rows, axis=0, return_inverse=True)
        torch = require_torch()
        u_miss = np.empty(len(unique))
        u_tie = np.empty(len(unique))
        with torch_session(), torch.no_grad():
            for lo in range(0, len(unique), _SCORE_BATCH):
                part = unique[lo : lo + _SCORE_BATCH]
                logits = self.model_(torch.from_numpy(np.ascontiguousarray(part[:, :h])))
                logp = torch.log_softmax(logits.double(), dim=1).numpy()
                lp = logp[np.arange(len(part)), part[:, h]]
                rank = (logp > lp[:, None]).sum(axis=1)  # keys strictly more probable
                u_miss[lo : lo + len(part)] = rank >= int(self.top_k)
                u_tie[lo : lo + len(part)] = -lp / (1.0 - lp)
        inverse = inverse.reshape(-1)
        return u_miss[inverse], u_tie[inverse]

    def _score(self, data: EncodedSessions):
        h = int(self.window)
        pairs, offsets = windows(data.codes, h, self._pad())
        is_end = np.zeros(len(pairs), dtype=bool)
        is_end[offsets[1:] - 1] = True
        miss, tie = self._pair_scores(pairs)
        # an unseen event (code 0 as a target that is not the end of session) always misses
        unseen = (pairs[:, h] == 0) & ~is_end
        miss[unseen] = 1.0
        tie[unseen] = 1.0
        scores = np.zeros(len(data))
        events = []
        for i in range(len(data)):
            lo, hi = offsets[i], offsets[i + 1]
            scores[i] = miss[lo:hi].sum() + min(tie[lo:hi].max(), 1.0 - 1e-9)
            events.append((miss[lo : hi - 1] + tie[lo : hi - 1]).astype(np.float32))
        return session_scores(data, scores, events)

    # -- persistence ----------------------------------------------------------------------
    def _get_state(self):
        return module_arrays(self.model_, _PREFIX), {}

    def _state_spec(self) -> StateSpec:
        with torch_session():
            shapes = {k: v.shape for k, v in module_arrays(self._model(), _PREFIX).items()}
        return StateSpec(
            arrays={k: ArraySpec(tuple(int(d) for d in s), "float32") for k, s in shapes.items()}
        )

    def _set_state(self, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
        with torch_session():
            model = self._model()
            load_module_arrays(model, arrays, _PREFIX)
            model.eval()
        self.model_ = model
