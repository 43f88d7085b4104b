"""The detector registry: a class decorator declares name, modality, paper and capabilities.

Adding a detector means writing its module and decorating its class; nothing else needs
editing. The method families (``normalcy.tabular``, ``normalcy.image``, ...) are imported
lazily the first time the registry is queried, so ``import normalcy`` stays fast.
"""

from __future__ import annotations

import importlib
import inspect
from dataclasses import dataclass, field
from typing import Any

from .errors import UnknownDetectorError

MODALITIES = ("tabular", "image", "series", "logs", "graph", "video")
# Families imported on first use of the registry; a family whose optional dependency is
# missing (e.g. torch for images) is skipped and reported by ``unavailable_families()``.
FAMILIES = ("normalcy.tabular", "normalcy.series", "normalcy.image")

_REGISTRY: dict[str, type] = {}
_INFO: dict[str, DetectorInfo] = {}
_FAMILY_ERRORS: dict[str, str] = {}
_families_loaded = False


@dataclass(frozen=True)
class DetectorInfo:
    """What the registry knows of one detector."""

    name: str
    modality: str
    paper: str
    year: int
    can_localise: bool = False
    streaming: bool = False
    needs_fit: bool = True
    params: dict[str, Any] = field(default_factory=dict)
    summary: str = ""
    module: str = ""


def _default_params(cls: type) -> dict[str, Any]:
    params = {}
    for name, p in inspect.signature(cls.__init__).parameters.items():
        if name == "self" or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        params[name] = None if p.default is inspect.Parameter.empty else p.default
    return params


def register(
    name: str,
    *,
    modality: str,
    paper: str,
    year: int,
    can_localise: bool = False,
    streaming: bool = False,
    needs_fit: bool = True,
):
    """Class decorator registering a detector under ``name``."""
    if modality not in MODALITIES:
        raise ValueError(f"unknown modality {modality!r}; expected one of {MODALITIES}")

    def decorate(cls: type) -> type:
        if name in _REGISTRY and _REGISTRY[name] is not cls:
            raise ValueError(f"a detector named {name!r} is already registered")
        doc = inspect.getdoc(cls) or ""
        info = DetectorInfo(
            name=name,
            modality=modality,
            paper=paper,
            year=year,
            can_localise=can_localise,
            streaming=streaming,
            needs_fit=needs_fit,
            params=_default_params(cls),
            summary=doc.splitlines()[0] if doc else "",
            module=cls.__module__,
        )
        cls.name = name
        cls.info = info
        _REGISTRY[name] = cls
        _INFO[name] = info
        return cls

    return decorate


def _load_families() -> None:
    global _families_loaded
    if _families_loaded:
        return
    _families_loaded = True
    for family in FAMILIES:
        try:
            importlib.import_module(family)
        except ImportError as exc:  # optional dependency missing
            _FAMILY_ERRORS[family] = str(exc)


def unavailable_families() -> dict[str, str]:
    """Families that could not be imported, with the reason (usually a missing extra)."""
    _load_families()
    return dict(_FAMILY_ERRORS)


def detectors(modality: str | None = None) -> list[DetectorInfo]:
    """All registered detectors, optionally of one modality, sorted by modality and name."""
    _load_families()
    if modality is not None and modality not in MODALITIES:
        raise UnknownDetectorError(f"unknown modality {modality!r}; expected one of {MODALITIES}")
    infos = [i for i in _INFO.values() if modality is None or i.modality == modality]
    return sorted(infos, key=lambda i: (i.modality, i.name))


def get_class(name: str) -> type:
    """The detector class registered under ``name``."""
    _load_families()
    try:
        return _REGISTRY[name]
    except KeyError:
        known = ", ".join(sorted(_REGISTRY))
        hint = ""
        if _FAMILY_ERRORS:
            hint = (
                " (some families could not be imported: "
                + "; ".join(f"{k}: {v}" for k, v in _FAMILY_ERRORS.items())
                + ")"
            )
        raise UnknownDetectorError(
            f"no detector named {name!r}; registered detectors are: {known}{hint}"
        ) from None


def create(name: str, **params: Any):
    """Build a registered detector by name: ``nc.create("iforest", n_estimators=200)``."""
    cls = get_class(name)
    allowed = _INFO[name].params
    unknown = sorted(set(params) - set(allowed))
    if unknown:
        from .errors import InputError

        raise InputError(
            f"detector {name!r} has no parameter(s) {unknown}; its parameters are {sorted(allowed)}"
        )
    detector = cls(**params)
    detector._validate_params()
    return detector
