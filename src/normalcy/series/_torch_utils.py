"""Small torch helpers shared by the neural series detectors: a seeded session with few CPU
threads, device choice, module weights as numpy arrays (model files hold no pickle), batched
inference and a rich progress bar over training epochs.

torch is an optional dependency (``normalcy[series]``); it is imported only when a neural
detector is fitted or loaded, so the series family imports without it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ..progress import progress_bar
from ..torch_helpers import (  # noqa: F401 (re-exported for the series detectors)
    load_module_arrays,
    module_arrays,
    module_spec,
    require_torch,
    resolve_device,
    torch_session,
)

THREADS = 1  # CPU threads torch uses inside fit/score; restored afterwards


def predict_batches(
    fn: Callable[[Any], Any], X: np.ndarray, device: Any, batch_size: int = 1024
) -> list[np.ndarray]:
    """Apply ``fn`` (tensor -> tensor or tuple of tensors) to ``X`` in batches without
    gradients; returns one float64 array per output, concatenated over batches."""
    torch = require_torch()
    outs: list[list[np.ndarray]] = []
    with torch.no_grad():
        for lo in range(0, X.shape[0], batch_size):
            xb = torch.from_numpy(np.ascontiguousarray(X[lo : lo + batch_size], np.float32))
            res = fn(xb.to(device))
            res = res if isinstance(res, tuple) else (res,)
            if not outs:
                outs = [[] for _ in res]
            for store, r in zip(outs, res, strict=True):
                store.append(r.detach().cpu().numpy().astype(np.float64))
    return [np.concatenate(store, axis=0) for store in outs]


def epoch_progress(verbose: bool, total: int, description: str):
    """A progress bar over ``total`` epochs (see ``normalcy.progress``)."""
    return progress_bar(description, total, verbose)
