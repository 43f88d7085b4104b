"""What every tabular detector shares beyond ``TabularDetector``: the column-name check at
scoring time, the input spec a model file may claim, and common parameter constraints.

``CheckedColumns`` is a mixin placed before ``TabularDetector`` in each detector's bases:
scoring input is compared with the feature names seen in ``fit`` (scikit-learn's rules,
see ``tabular.input``).
"""

from __future__ import annotations

from numbers import Integral, Real
from typing import Any

import numpy as np

from ..core.constraints import Interval, ListOf
from ..core.errors import ModelFileError
from .input import as_tabular

# Widest table a model file may claim (a bound, so a tampered spec cannot size huge arrays).
MAX_FEATURES = 10_000_000

SEED = [Interval(Integral, 0, 2**32 - 1)]
N_THREADS = [Interval(Integral, 1, 1024)]
EPOCHS = [Interval(Integral, 0, 100_000)]
BATCH = [Interval(Integral, 1, 10_000_000)]
RATE = [Interval(Real, 0, 10, closed="neither")]
DECAY = [Interval(Real, 0, 1, closed="left")]
DROPOUT = [Interval(Real, 0, 1, closed="left")]
LAYERS = [ListOf(Interval(Integral, 1, 100_000), min_len=1, max_len=64)]


class CheckedColumns:
    """Mixin: scoring input must have the columns (names and order) seen in ``fit``."""

    def _check_score_input(self, X: Any) -> np.ndarray:
        return as_tabular(
            X,
            n_features=self.n_features_in_,
            feature_names=getattr(self, "feature_names_in_", None),
            name="X",
        )

    def _n_features(self) -> int:
        """The loaded input spec's width, verified (for ``_state_spec``)."""
        d = getattr(self, "n_features_in_", None)
        if isinstance(d, (bool, np.bool_)) or not isinstance(d, (int, np.integer)):
            raise ModelFileError(f"input spec n_features must be an int, got {d!r}")
        if not 1 <= d <= MAX_FEATURES:
            raise ModelFileError(f"input spec n_features is {d}, expected [1, {MAX_FEATURES}]")
        names = getattr(self, "feature_names_in_", None)
        if names is not None and (
            not isinstance(names, (list, tuple))
            or len(names) != d
            or not all(isinstance(n, str) for n in names)
            or len(set(names)) != d
        ):
            raise ModelFileError(
                f"input spec feature_names must be None or {d} distinct strings, got "
                f"{str(names)[:80]}"
            )
        return int(d)
