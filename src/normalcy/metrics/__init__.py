"""Evaluation metrics checked against independent references (see docs/metrics.md).

Every metric takes ground truth first: ``metric(y_true, y_score, ...)`` (``masks, maps`` for the
pixel metrics). Higher scores mean more anomalous; NaN/inf scores raise ``InputError``; a metric
that is undefined for the input (e.g. one class only) returns NaN with an
``UndefinedMetricWarning``.
"""

from ._validation import UndefinedMetricWarning
from .evaluate import evaluate
from .multivariate import (
    Affiliation,
    affiliation,
    affiliation_f1,
    hit_rate,
    point_adjusted_f1_max,
    point_f1,
)
from .pixel import AupimoResult, aupimo, aupro, pixel_auroc
from .ranking import F1Max, auroc, average_precision, f1_max, tpr_at_fpr
from .series import (
    NAB_PROFILES,
    event_f1,
    nab_normalize,
    nab_raw_score,
    nab_score,
    pate,
    point_adjusted_f1,
    range_f1,
    range_precision_recall,
    ucr_score,
    vus_pr,
    vus_roc,
)

__all__ = [
    "NAB_PROFILES",
    "Affiliation",
    "AupimoResult",
    "F1Max",
    "UndefinedMetricWarning",
    "affiliation",
    "affiliation_f1",
    "aupimo",
    "aupro",
    "auroc",
    "average_precision",
    "evaluate",
    "event_f1",
    "f1_max",
    "hit_rate",
    "nab_normalize",
    "nab_raw_score",
    "nab_score",
    "pate",
    "pixel_auroc",
    "point_adjusted_f1",
    "point_adjusted_f1_max",
    "point_f1",
    "range_f1",
    "range_precision_recall",
    "tpr_at_fpr",
    "ucr_score",
    "vus_pr",
    "vus_roc",
]
