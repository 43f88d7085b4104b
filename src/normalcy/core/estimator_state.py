"""Safe persistence of scikit-learn-style estimators (scikit-learn, PyOD) through skops.

skops writes an estimator as a zip of JSON schema + numpy arrays and rebuilds it without
pickle; it instantiates only the types it is told to trust. We trust exactly the types
whose module lies in ``TRUSTED_MODULES`` and refuse the file otherwise.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .errors import ModelFileError
from .persistence import bytes_to_array

TRUSTED_MODULES = ("sklearn.", "pyod.", "numpy.", "scipy.", "builtins.")


def dump_estimator(estimator: Any) -> np.ndarray:
    """The estimator as skops bytes, wrapped in a uint8 array for safetensors."""
    import skops.io as sio

    return bytes_to_array(sio.dumps(estimator))


def load_estimator(blob: np.ndarray) -> Any:
    """Rebuild an estimator from ``dump_estimator`` output, trusting only known modules."""
    import skops.io as sio

    data = np.asarray(blob, dtype=np.uint8).tobytes()
    try:
        types = sio.get_untrusted_types(data=data)
    except Exception as exc:
        raise ModelFileError(f"saved estimator could not be read ({exc})") from None
    foreign = [t for t in types if not t.startswith(TRUSTED_MODULES)]
    if foreign:
        raise ModelFileError(
            f"saved estimator refers to untrusted types {foreign[:5]}; only types from "
            f"{TRUSTED_MODULES} are rebuilt"
        )
    try:
        return sio.loads(data, trusted=types)
    except Exception as exc:
        raise ModelFileError(f"saved estimator could not be rebuilt ({exc})") from None
