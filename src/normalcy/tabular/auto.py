"""``auto``: the default tabular detector, a label-free search over detector families.

AutoOD (Li et al., 2020) frames outlier detection as a search over a space of detectors
when no labels exist to say which one is right. ``auto`` does that search cheaply, with
signals that need no labels:

1. **Search space.** Five families that fail in different ways (ADBench, Han et al. 2022,
   finds no single one best): Isolation Forest; mean k-NN distance (k in 10, 20, 50);
   Mahalanobis distance under an OAS-shrunk covariance of the concentrated half of the rows
   (three FastMCD C-steps, Rousseeuw & Van Driessen 1999); PCA residual (90 and 95 percent
   of the variance); HBOS (10 and 20 bins). Variants of one family share one fitted model.
2. **Common scale.** Every variant's scores become robust z-scores against its own scores
   on the training rows: ``(s - median) / (IQR / 1.349)``. A family's score is the mean over
   its hyper-parameter grid: averaging the grid, instead of picking one value, removes the
   hyper-parameter without labels (Aggarwal & Sathe, 2017).
3. **Selection signal: agreement with the consensus.** A family's Spearman correlation with
   the mean of the *other* families (model centrality, Ma et al. 2022) measures whether it
   sees the same structure as the rest. A family below ``min_agreement`` is presumed broken
   on this data and dropped (if every family would be dropped, all are kept). Families are
   deliberately not ranked beyond this filter: picking the single most central model
   rewards redundancy rather than accuracy.
4. **Trimming with pseudo-labels.** The consensus of the agreeing families (screening
   without Isolation Forest, the slowest to fit) flags the top ``trim`` share of training
   rows as presumed outliers; every family is then refitted on the remaining rows, a trimmed
   estimator in the spirit of MCD that stops training outliers from masking each other.
   ``trim_rounds`` repeats the screening.
5. **Score.** The agreement filter is applied again to the refitted families; the score is
   the mean robust z-score of those kept.

Nothing is tuned per data set and no label is used at any point. Constant training columns
are dropped; a later deviation in one of them outranks every other row.

Parameters
----------
families : sequence of str
    Member families to search (subset of ``iforest, knn, mahalanobis, pca, hbos``).
trim : float
    Share of training rows held out as presumed outliers before the final fit (0 disables).
trim_rounds : int
    How many times the trimming step is repeated.
min_agreement : float
    Smallest Spearman correlation with the other families' consensus a family needs to stay.
max_stats_rows : int
    Training rows (a seeded sample) used to compute each variant's median and IQR.
seed : int
    Seed for every random choice (Isolation Forest, reference samples).

References
----------
Li, Chen, Wang, Hu, Zhong & Kwok. AutoOD: Automated Outlier Detection via Curiosity-guided
Search and Self-imitation Learning. arXiv:2006.11321, 2020.
Ma, Zhao & Akoglu. Toward Unsupervised Outlier Model Selection. ICDM 2022.
Ma, Zhao & Akoglu. The Need for Unsupervised Outlier Model Selection: A Review and
Evaluation of Internal Evaluation Strategies. SIGKDD Explorations 2023.
Han, Hu, Huang, Jiang & Zhao. ADBench: Anomaly Detection Benchmark. NeurIPS 2022.
Rousseeuw & Van Driessen. A Fast Algorithm for the Minimum Covariance Determinant
Estimator. Technometrics 41(3), 1999.
Aggarwal & Sathe. Outlier Ensembles: An Introduction. Springer 2017.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, ClassVar

import numpy as np
from scipy.stats import rankdata

from ..core.constraints import Integral, Interval, ListOf, Options, Real, Satisfies
from ..core.errors import ModelFileError
from ..core.registry import register
from ..core.state_spec import ArraySpec, StateSpec
from .base import TabularDetector
from .common import SEED
from .ensemble_members import FAMILIES, KNNMember, Member, make_member
from .preprocessing import ColumnScaler, add_drift, finite_span

IQR_TO_SD = 1.349  # IQR of a standard normal distribution
# Left out of the screening consensus: the slowest member to fit, and the other families
# already agree on the obvious outliers that trimming removes.
SCREEN_SKIP = frozenset({"iforest"})


def robust_stats(scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per row of ``scores`` (variants x samples): median and a robust scale (never 0)."""
    med = np.median(scores, axis=1)
    q75, q25 = np.percentile(scores, [75, 25], axis=1)
    scale = (q75 - q25) / IQR_TO_SD
    std = scores.std(axis=1)
    scale = np.where(scale > 0, scale, np.where(std > 0, std, 1.0))
    return med, scale


def agreement(family_scores: np.ndarray) -> np.ndarray:
    """Spearman correlation of each row with the mean of the other rows (NaN -> 0)."""
    k = family_scores.shape[0]
    if k < 2:
        return np.ones(k)
    ranks = np.stack([rankdata(row) for row in family_scores])
    out = np.zeros(k)
    for i in range(k):
        others = np.delete(family_scores, i, axis=0).mean(axis=0)
        a, b = ranks[i], rankdata(others)
        if a.std() > 0 and b.std() > 0:
            out[i] = float(np.corrcoef(a, b)[0, 1])
    return out


@register(
    "auto",
    modality="tabular",
    paper=(
        "Li et al. AutoOD: Automated Outlier Detection via Curiosity-guided Search and "
        "Self-imitation Learning. arXiv 2020 (label-free search over detector families)"
    ),
    year=2020,
)
class AutoDetector(TabularDetector):
    """Label-free search over detector families: consensus-filtered, trimmed, z-averaged."""

    quick_params: ClassVar[dict[str, Any]] = {}
    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "families": [
            Satisfies(
                lambda v: (
                    ListOf(Options(str, set(FAMILIES)), min_len=1, max_len=5).accepts(v)
                    and len(set(v)) == len(v)
                ),
                f"a non-empty list of distinct families from {sorted(FAMILIES)}",
            )
        ],
        "trim": [Interval(Real, 0, 0.5, closed="left")],
        "trim_rounds": [Interval(Integral, 0, 100)],
        "min_agreement": [Interval(Real, -1, 1)],
        "max_stats_rows": [Interval(Integral, 1, 10_000_000)],
        "seed": SEED,
    }

    def __init__(
        self,
        families: tuple[str, ...] | list[str] = ("iforest", "knn", "mahalanobis", "pca", "hbos"),
        trim: float = 0.05,
        trim_rounds: int = 1,
        min_agreement: float = 0.2,
        max_stats_rows: int = 2000,
        seed: int = 0,
    ) -> None:
        self.families = families
        self.trim = trim
        self.trim_rounds = trim_rounds
        self.min_agreement = min_agreement
        self.max_stats_rows = max_stats_rows
        self.seed = seed

    # -- helpers ------------------------------------------------------------------------
    def _check_params(self) -> list[str]:
        return list(self.families)

    def _fit_members(self, Z: np.ndarray, fams: list[str]) -> list[Member]:
        cache: dict = {}
        return [make_member(f, seed=self.seed).fit(Z, cache) for f in fams]

    def _sample(self, rows: np.ndarray) -> np.ndarray:
        """At most ``max_stats_rows`` of ``rows`` (seeded), in order."""
        if len(rows) <= self.max_stats_rows:
            return rows
        rng = np.random.default_rng(self.seed + 1)
        return np.sort(rng.choice(rows, int(self.max_stats_rows), replace=False))

    @staticmethod
    def _family_z(raw: np.ndarray, med: np.ndarray, scale: np.ndarray) -> np.ndarray:
        return ((raw - med[:, None]) / scale[:, None]).mean(axis=0)

    # -- contract -----------------------------------------------------------------------
    def _fit(self, X: np.ndarray) -> None:
        fams = self._check_params()
        self.scaler_ = ColumnScaler().fit(X)
        self.members_: list[Member] = []
        self.stats_: list[tuple[np.ndarray, np.ndarray]] = []
        self.agreement_ = np.zeros(len(fams))
        self.selected_ = list(fams)
        self.span_ = 1.0
        if self.scaler_.n_kept == 0:  # every column constant: only drift can be scored
            return
        Z = self.scaler_.transform(X)
        n = Z.shape[0]
        keep = np.arange(n)
        n_out = int(np.floor(float(self.trim) * n))
        rounds = max(int(self.trim_rounds), 0) if (n_out >= 1 and n - n_out >= 2) else 0
        # Screening rounds: fit on the kept rows, score all rows, trim the consensus top.
        for _ in range(rounds):
            screen = [f for f in fams if f not in SCREEN_SKIP] or fams
            members = self._fit_members(Z[keep], screen)
            raw = [m.score(Z) for m in members]
            sample = self._sample(keep)
            fam = np.stack([self._family_z(r, *robust_stats(r[:, sample])) for r in raw])
            chosen = agreement(fam[:, sample]) >= self.min_agreement
            consensus = fam[chosen].mean(axis=0) if chosen.any() else fam.mean(axis=0)
            keep = np.sort(np.argsort(consensus, kind="stable")[: n - n_out])
        # Final fit on the kept rows; scales and agreement from a sample of them.
        members = self._fit_members(Z[keep], fams)
        sample = self._sample(keep)
        raw = [m.score(Z[sample]) for m in members]
        stats = [robust_stats(r) for r in raw]
        fam = np.stack([self._family_z(r, *s) for r, s in zip(raw, stats, strict=True)])
        self.agreement_ = agreement(fam)
        chosen = self.agreement_ >= self.min_agreement
        if not chosen.any():
            chosen[:] = True
        self.members_ = [m for m, c in zip(members, chosen, strict=True) if c]
        self.stats_ = [st for st, c in zip(stats, chosen, strict=True) if c]
        self.selected_ = [f for f, c in zip(fams, chosen, strict=True) if c]
        self.span_ = finite_span(fam[chosen].mean(axis=0))

    def _combine(self, Z: np.ndarray) -> np.ndarray:
        rows = [
            self._family_z(m.score(Z), *s) for m, s in zip(self.members_, self.stats_, strict=True)
        ]
        return np.mean(rows, axis=0)

    def _score(self, X: np.ndarray) -> np.ndarray:
        drift = self.scaler_.drift(X)
        if not self.members_:
            return drift
        scores = self._combine(self.scaler_.transform(X))
        return add_drift(scores, drift, self.span_)

    # -- persistence --------------------------------------------------------------------
    # Arrays: the scaler's, ``agreement`` (one per family), ``span``, and per selected family
    # ``<family>.median``/``<family>.scale`` (one per variant) and the member's own arrays.
    def _get_state(self):
        arrays = self.scaler_.get_state()
        arrays["agreement"] = self.agreement_
        arrays["span"] = np.array([self.span_])
        for member, (med, scale) in zip(self.members_, self.stats_, strict=True):
            prefix = member.family + "."
            arrays.update(member.state(prefix))
            arrays[prefix + "median"] = med
            arrays[prefix + "scale"] = scale
        meta = {"selected": list(self.selected_), "fitted_members": len(self.members_)}
        return arrays, meta

    def _state_spec(self) -> StateSpec:
        d = self._n_features()
        fams = list(self.families)
        arrays = {
            "agreement": ArraySpec((len(fams),), "float64", value_range=(-1.0, 1.0)),
            "span": ArraySpec((1,), "float64", value_range=(0.0, None)),
        }
        for fam in fams:
            member = make_member(fam, seed=0)
            n_var = len(member.variants)
            group = {
                fam + ".median": ArraySpec((n_var,), "float64"),
                fam + ".scale": ArraySpec(
                    (n_var,), "float64", value_range=(np.finfo(float).tiny, None)
                ),
                **member.spec(fam + ".", "k"),
            }
            # present exactly for the selected families (checked against meta on load)
            arrays.update({k: replace(v, optional=True) for k, v in group.items()})
        return ColumnScaler.state_spec(d).merged(
            StateSpec(
                arrays=arrays,
                meta={
                    "selected": [
                        Satisfies(
                            lambda v: (
                                ListOf(
                                    Options(str, set(fams)), min_len=1, max_len=len(fams)
                                ).accepts(v)
                                and len(set(v)) == len(v)
                            ),
                            f"a non-empty list of distinct families from {fams}",
                        )
                    ],
                    "fitted_members": [Interval(Integral, 0, len(fams))],
                },
                dim_bounds={
                    "knn.n_ref": (1, KNNMember().max_reference),
                    "mahalanobis.rank": (1, d),
                    "pca.rank": (1, d),
                },
            )
        )

    def _set_state(self, arrays, meta):
        selected = list(meta["selected"])
        fitted = int(meta["fitted_members"])
        if fitted not in (0, len(selected)):
            raise ModelFileError(
                f"state says {fitted} fitted members but {len(selected)} selected families"
            )
        chosen = selected if fitted else []
        for fam in self.families:
            present = {k for k in arrays if k.startswith(fam + ".")}
            if (fam in chosen) != bool(present):
                raise ModelFileError(
                    f"the arrays of family {fam!r} must be present exactly when it is selected"
                )
            if present:
                want = set(make_member(fam, seed=0).spec(fam + ".", "k")) | {
                    fam + ".median",
                    fam + ".scale",
                }
                if present != want:
                    raise ModelFileError(f"family {fam!r} lacks arrays {sorted(want - present)}")
        self.scaler_ = ColumnScaler.from_state(arrays)
        self.agreement_ = arrays["agreement"]
        self.span_ = float(arrays["span"][0])
        self.selected_ = selected
        self.members_, self.stats_ = [], []
        for fam in chosen:
            member = make_member(fam, seed=self.seed)
            member.load(arrays, fam + ".")
            self.members_.append(member)
            self.stats_.append((arrays[fam + ".median"], arrays[fam + ".scale"]))
