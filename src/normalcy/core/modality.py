"""Data types as plug-ins: one ``Modality`` description per package, and their registry.

A data type is one package, ``normalcy/<name>/``, that owns its detector base class, input
validation, CLI reader, demo data and evaluation kind. It describes them in one
``Modality`` held by ``normalcy/<name>/modality.py`` as ``MODALITY``; every such module is
found by looking for that file (nothing is imported until a modality is asked for, and
``modality.py`` itself must stay import-light: strings, no heavy imports). A modality
outside the ``normalcy`` package registers itself with ``register_modality``.

``core`` knows no data type by name: the CLI, the demo, the metrics, the docs and the
registry all ask this module. See docs/architecture.md.
"""

from __future__ import annotations

import importlib
import importlib.util
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import NormalcyError, UnknownDetectorError

_ROOT = __name__.rsplit(".", 2)[0]  # "normalcy"
Ref = str | Callable[..., Any]  # "module:attribute", or the object itself


@dataclass(frozen=True)
class Modality:
    """What normalcy needs to know of one data type.

    Every reference to code is a ``"module:attribute"`` string, imported only when used,
    so describing a modality costs nothing at start-up (an object may stand in for the
    string, e.g. in a test that defines its modality in one module).

    Attributes
    ----------
    name:
        The modality's name, as detectors declare it (``register(..., modality=name)``).
    package:
        The package holding its detectors; every public module in it is imported when the
        full registry is needed (``nc.detectors()``).
    base_class:
        ``"module:Class"`` of the detector base class (input validation, input spec).
    reader:
        ``"module:function"``: ``function(path) -> data`` that ``normalcy fit/score/calibrate``
        use to read a path for this modality; ``None`` = no command-line support.
    reader_help:
        What the reader accepts, for error messages ("a .csv or .parquet file").
    demo:
        ``"module:Class"`` of its demo data (a ``normalcy.demo.ModalityDemo``), or ``None``.
    evaluation_kind:
        The ``normalcy.metrics.evaluate`` kind its scores are judged with ("ranking",
        "series", ...); ``evaluate(kind=<modality name>)`` uses it.
    maps_writer:
        ``"module:function"``: ``function(data, scores, folder) -> int`` that writes anomaly
        maps for ``normalcy score --maps-dir``; ``None`` = no maps on the command line.
    index_label:
        Name of the index column in ``normalcy score`` output ("row", "step", "image").
    extras:
        The pip extras it needs (``pip install 'normalcy[extra]'``).
    requires:
        Top-level modules those extras provide; checked (without importing) to say
        whether the modality is usable here.
    title:
        Heading in the docs ("Time series").
    order:
        Position in listings and docs (lower first).
    """

    name: str
    package: str
    base_class: Ref
    reader: Ref | None = None
    reader_help: str = ""
    demo: Ref | None = None
    evaluation_kind: str = "ranking"
    maps_writer: Ref | None = None
    index_label: str = "row"
    extras: tuple[str, ...] = ()
    requires: tuple[str, ...] = ()
    title: str = ""
    order: int = 100

    def resolve(self, field: str) -> Any:
        """Import and return the object named by ``field`` ("reader", "demo", ...)."""
        ref = getattr(self, field)
        if ref is None:
            raise NormalcyError(f"modality {self.name!r} has no {field}")
        return resolve_ref(ref)

    def missing_requirements(self) -> list[str]:
        """Required modules that are not installed (found without importing them)."""
        return [m for m in self.requires if importlib.util.find_spec(m) is None]

    def install_hint(self) -> str:
        extras = ",".join(self.extras)
        return f"pip install 'normalcy[{extras}]'" if extras else "pip install normalcy"


_MODALITIES: dict[str, Modality] = {}
_discovered = False


def resolve_ref(ref: Ref) -> Any:
    """``"package.module:attr"`` → the object (a callable is returned as it is)."""
    if not isinstance(ref, str):
        return ref
    module, _, attr = ref.partition(":")
    obj: Any = importlib.import_module(module)
    for part in attr.split(".") if attr else ():
        obj = getattr(obj, part)
    return obj


def register_modality(modality: Modality, *, replace: bool = False) -> Modality:
    """Add ``modality`` to the registry (``replace`` to redefine one, e.g. in tests)."""
    old = _MODALITIES.get(modality.name)
    if old is not None and old != modality and not replace:
        raise ValueError(f"a modality named {modality.name!r} is already registered")
    _MODALITIES[modality.name] = modality
    return modality


def unregister_modality(name: str) -> None:
    """Remove a modality (tests that register a toy one clean up with this)."""
    _MODALITIES.pop(name, None)


def _discover() -> None:
    """Register ``MODALITY`` of every ``normalcy/<pkg>/modality.py`` (once)."""
    global _discovered
    if _discovered:
        return
    _discovered = True
    root = importlib.import_module(_ROOT)
    for info in pkgutil.iter_modules(root.__path__):
        if not info.ispkg:
            continue
        folder = Path(info.module_finder.path) / info.name  # type: ignore[union-attr]
        if not (folder / "modality.py").is_file():
            continue
        module = importlib.import_module(f"{_ROOT}.{info.name}.modality")
        description = getattr(module, "MODALITY", None)
        if isinstance(description, Modality) and description.name not in _MODALITIES:
            _MODALITIES[description.name] = description


def modalities() -> list[Modality]:
    """Every known modality, in display order."""
    _discover()
    return sorted(_MODALITIES.values(), key=lambda m: (m.order, m.name))


def modality_names() -> list[str]:
    return [m.name for m in modalities()]


def get_modality(name: str) -> Modality:
    """The modality registered as ``name``; ``UnknownDetectorError`` names the known ones."""
    _discover()
    try:
        return _MODALITIES[name]
    except KeyError:
        raise UnknownDetectorError(
            f"unknown modality {name!r}; known modalities are {modality_names()}"
        ) from None


def base_class_names() -> dict[str, str]:
    """Base-class name → ``"module:Class"`` (or the class), for ``normalcy.core``'s lazy
    attributes."""
    return {_ref_name(m.base_class): m.base_class for m in modalities()}


def _ref_name(ref: Any) -> str:
    return ref.rpartition(":")[2] if isinstance(ref, str) else getattr(ref, "__name__", "")
