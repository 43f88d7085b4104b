"""Time-series detectors and their shared machinery.

Machinery: ``windows`` (sliding windows, the window-length rule, window-to-point score
spreading), ``normalise`` (normalisation fitted on normal history only), ``windowed`` (the
base of window-scoring detectors) and ``streaming`` (``learn_one`` / ``score_one`` /
``partial_fit`` and a ring buffer). Importing this package registers its detectors.
"""

from . import conformal_knn, hpc_autoencoder, hypad, mp_discord, rola, sub_pca, windowed_tabular  # noqa: F401
from .conformal_knn import ConformalKNN
from .mp_discord import MatrixProfileDiscord
from .streaming import StreamingMixin, WindowBuffer
from .sub_pca import SubPCA
from .windowed import WindowedDetector
from .windowed_tabular import SubIForest, SubKNN, WindowedTabularDetector

__all__ = [
    "ConformalKNN",
    "MatrixProfileDiscord",
    "StreamingMixin",
    "SubIForest",
    "SubKNN",
    "SubPCA",
    "WindowBuffer",
    "WindowedDetector",
    "WindowedTabularDetector",
]
