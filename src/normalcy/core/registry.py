"""The detector registry: a class decorator declares name, modality, paper and capabilities.

Adding a detector means writing its module and decorating its class; nothing else needs
editing. Detectors are imported lazily:

* ``create(name)`` / ``get_class(name)`` import only the module that defines ``name``,
  found in the generated index (``normalcy/detector_index.json``, rewritten by
  ``normalcy docs``); a name the index lacks makes every family load, so a stale index is
  only slower, never wrong;
* ``detectors()`` imports every module of every modality's package (``core.modality``);
* ``indexed_detectors()`` answers from the index without importing any detector
  (``normalcy list``).

A detector renamed keeps its old name working with ``aliases=("old_name",)``: ``create``
and ``nc.load`` resolve aliases, so old model files still load.
"""

from __future__ import annotations

import importlib
import inspect
import json
import pkgutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import InputError, UnknownDetectorError
from .modality import _ROOT, get_modality, modalities

INDEX_FILE = "detector_index.json"

_REGISTRY: dict[str, type] = {}
_INFO: dict[str, DetectorInfo] = {}
_ALIASES: dict[str, str] = {}
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
    aliases: tuple[str, ...] = ()
    uses_labels: bool = False


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
    aliases: tuple[str, ...] = (),
    uses_labels: bool = False,
):
    """Class decorator registering a detector under ``name`` (and its old ``aliases``).

    ``uses_labels``: ``fit(X, y)`` passes ``y`` on to ``_fit`` (otherwise it is ignored,
    as scikit-learn's unsupervised estimators do).
    """
    try:
        get_modality(modality)
    except UnknownDetectorError as exc:
        raise ValueError(str(exc)) from None
    aliases = tuple(aliases)

    def decorate(cls: type) -> type:
        for key in (name, *aliases):
            owner = _REGISTRY.get(_ALIASES.get(key, key))
            if owner is not None and owner is not cls:
                raise ValueError(f"a detector named {key!r} is already registered")
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
            aliases=aliases,
            uses_labels=uses_labels,
        )
        cls.name = name
        cls.info = info
        _REGISTRY[name] = cls
        _INFO[name] = info
        for alias in aliases:
            _ALIASES[alias] = name
        return cls

    return decorate


def unregister(name: str) -> None:
    """Remove a detector and its aliases (tests that register toys clean up with this)."""
    info = _INFO.pop(name, None)
    _REGISTRY.pop(name, None)
    for alias in info.aliases if info else ():
        _ALIASES.pop(alias, None)


def _import_family_module(module: str) -> None:
    try:
        importlib.import_module(module)
    except ImportError as exc:  # optional dependency missing
        _FAMILY_ERRORS[module] = str(exc)


def _load_families() -> None:
    """Import every public module of every modality's package (registers all detectors)."""
    global _families_loaded
    if _families_loaded:
        return
    _families_loaded = True
    for modality in modalities():
        try:
            package = importlib.import_module(modality.package)
        except ImportError as exc:
            _FAMILY_ERRORS[modality.package] = str(exc)
            continue
        for sub in pkgutil.iter_modules(getattr(package, "__path__", [])):
            if not sub.name.startswith("_") and sub.name != "modality":
                _import_family_module(f"{modality.package}.{sub.name}")


def unavailable_families() -> dict[str, str]:
    """Modules that could not be imported, with the reason (usually a missing extra)."""
    _load_families()
    return dict(_FAMILY_ERRORS)


def _check_modality(modality: str | None) -> None:
    if modality is not None and modality not in [m.name for m in modalities()]:
        get_modality(modality)  # raises UnknownDetectorError naming the known ones


def detectors(modality: str | None = None) -> list[DetectorInfo]:
    """All registered detectors, optionally of one modality, sorted by modality and name."""
    _check_modality(modality)
    _load_families()
    order = {m.name: i for i, m in enumerate(modalities())}
    infos = [i for i in _INFO.values() if modality is None or i.modality == modality]
    return sorted(infos, key=lambda i: (order.get(i.modality, len(order)), i.name))


# -- the generated index ----------------------------------------------------------------
_index_cache: dict[str, dict[str, Any]] | None = None


def index_path() -> Path:
    """Where the generated index lives: next to ``normalcy/__init__.py``."""
    return Path(importlib.import_module(_ROOT).__file__).parent / INDEX_FILE


def _index() -> dict[str, dict[str, Any]]:
    """The generated index ({} when it is missing or unreadable: everything still works,
    only slower)."""
    global _index_cache
    if _index_cache is None:
        try:
            data = json.loads(index_path().read_text(encoding="utf-8"))
            _index_cache = data["detectors"] if isinstance(data, dict) else {}
        except (OSError, ValueError, KeyError, TypeError):
            _index_cache = {}
    return _index_cache


def _info_from_index(entry: dict[str, Any]) -> DetectorInfo:
    return DetectorInfo(**{**entry, "aliases": tuple(entry.get("aliases", ()))})


def indexed_detectors(modality: str | None = None) -> list[DetectorInfo]:
    """Detectors as the index knows them, plus any registered in this process; imports no
    detector module (``normalcy list``)."""
    _check_modality(modality)
    infos = {name: _info_from_index(entry) for name, entry in _index().items()}
    infos.update(_INFO)
    order = {m.name: i for i, m in enumerate(modalities())}
    chosen = [i for i in infos.values() if modality is None or i.modality == modality]
    return sorted(chosen, key=lambda i: (order.get(i.modality, len(order)), i.name))


def index_entries() -> dict[str, dict[str, Any]]:
    """The index's content for the registry as loaded now (``core.index`` writes it)."""
    entries = {}
    for info in detectors():
        entries[info.name] = {
            "name": info.name,
            "modality": info.modality,
            "paper": info.paper,
            "year": info.year,
            "can_localise": info.can_localise,
            "streaming": info.streaming,
            "needs_fit": info.needs_fit,
            "module": info.module,
            "aliases": list(info.aliases),
            "uses_labels": info.uses_labels,
        }
    return entries


# -- lookup ---------------------------------------------------------------------------
def canonical_name(name: str) -> str:
    """``name`` itself, or the detector an alias points to (loads what it must)."""
    if not isinstance(name, str):
        raise UnknownDetectorError(f"a detector name must be a string, got {name!r}")
    if name in _REGISTRY:
        return name
    if name in _ALIASES:
        return _ALIASES[name]
    index = _index()
    for entry in index.values():
        if name == entry["name"] or name in entry.get("aliases", ()):
            _import_family_module(entry["module"])
            if name in _REGISTRY or name in _ALIASES:
                return _ALIASES.get(name, name)
    _load_families()
    return _ALIASES.get(name, name)


def get_class(name: str) -> type:
    """The detector class registered under ``name`` (or under an alias of it)."""
    canonical = canonical_name(name)
    try:
        return _REGISTRY[canonical]
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
    """Build a registered detector by name: ``nc.create("iforest", n_estimators=200)``.

    Parameters are checked against the class's declared constraints before the constructor
    runs; a constructor that still rejects a value raises ``InputError`` too.
    """
    from .constraints import validate_params

    cls = get_class(name)
    info: DetectorInfo = cls.info
    allowed = info.params
    unknown = sorted(set(params) - set(allowed))
    if unknown:
        raise InputError(
            f"detector {info.name!r} has no parameter(s) {unknown}; its parameters are "
            f"{sorted(allowed)}"
        )
    validate_params(f"detector {info.name!r}", getattr(cls, "_parameter_constraints", {}), params)
    try:
        detector = cls(**params)
    except (TypeError, ValueError, ArithmeticError) as exc:
        if isinstance(exc, InputError):
            raise
        raise InputError(
            f"invalid parameter(s) of detector {info.name!r} {params}: {exc}"
        ) from None
    detector._validate_params()
    return detector
