"""Declared constraints on parameters and saved values, checked once at the boundary.

In the style of scikit-learn's ``_parameter_constraints``: a detector class declares, for
each constructor parameter, a list of acceptable forms; a value is valid when it satisfies
any of them. ``create``, ``fit`` and ``set_params`` check them, ``load`` checks them for the
parameters and metadata read from a model file, and ``normalcy docs`` prints them.

A form is one of:

* ``Interval(Integral | Real, left, right, closed=...)``: a number in a range (``bool`` is
  never a number here, NaN never lies in a range);
* ``Options(str, {"a", "b"})``: one of a fixed set of values;
* a type (``str``, ``bool``, ``dict``, ...): any instance of it;
* ``None``: the value ``None``;
* ``ListOf(form, max_len=...)``: a list/tuple whose every item satisfies ``form``;
* ``Satisfies(predicate, description)``: anything for which ``predicate`` is true.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from numbers import Integral, Real
from typing import Any

import numpy as np

from .errors import InputError

__all__ = [
    "Integral",
    "Interval",
    "ListOf",
    "Options",
    "Real",
    "Satisfies",
    "check_value",
    "describe",
    "validate_params",
]


_FLOAT_MAX = float(np.finfo(np.float64).max)


def _is_number(value: Any, kind: type) -> bool:
    if isinstance(value, (bool, np.bool_)):
        return False
    if kind is Integral:
        return isinstance(value, (Integral, np.integer))
    return isinstance(value, (Real, np.integer, np.floating))


@dataclass(frozen=True)
class Interval:
    """A number of ``kind`` (``Integral`` or ``Real``) between ``left`` and ``right``
    (``None`` = unbounded); ``closed`` is "both", "left", "right" or "neither";
    ``multiple_of``: an integer step the value must be a multiple of."""

    kind: type
    left: float | None
    right: float | None
    closed: str = "both"
    multiple_of: int | None = None

    def __post_init__(self) -> None:
        if self.kind not in (Integral, Real):
            raise TypeError("Interval kind must be numbers.Integral or numbers.Real")
        if self.closed not in ("both", "left", "right", "neither"):
            raise ValueError(f"bad closed={self.closed!r}")

    def accepts(self, value: Any) -> bool:
        if not _is_number(value, self.kind):
            return False
        # Python ints compare exactly with float bounds, however large (10**400 included);
        # a real parameter must still fit a float, since the method computes with it
        x = int(value) if isinstance(value, (Integral, np.integer)) else float(value)
        if isinstance(x, float) and not math.isfinite(x):
            return False
        if self.kind is Real and isinstance(x, int) and abs(x) > _FLOAT_MAX:
            return False
        if self.left is not None:
            if x < self.left or (x == self.left and self.closed in ("right", "neither")):
                return False
        if self.right is not None:
            if x > self.right or (x == self.right and self.closed in ("left", "neither")):
                return False
        return self.multiple_of is None or x % self.multiple_of == 0

    def __str__(self) -> str:
        what = "an int" if self.kind is Integral else "a finite number"
        lo = "-inf" if self.left is None else f"{self.left:g}"
        hi = "inf" if self.right is None else f"{self.right:g}"
        lb = "[" if self.closed in ("both", "left") and self.left is not None else "("
        rb = "]" if self.closed in ("both", "right") and self.right is not None else ")"
        step = "" if self.multiple_of is None else f", a multiple of {self.multiple_of}"
        return f"{what} in {lb}{lo}, {hi}{rb}{step}"


@dataclass(frozen=True)
class Options:
    """One of ``values`` (compared with ``==``; values must be of ``kind``)."""

    kind: type
    values: frozenset

    def __init__(self, kind: type, values: Iterable[Any]) -> None:
        object.__setattr__(self, "kind", kind)
        object.__setattr__(self, "values", frozenset(values))

    def accepts(self, value: Any) -> bool:
        if isinstance(value, (bool, np.bool_)) and self.kind is not bool:
            return False
        return isinstance(value, self.kind) and value in self.values

    def __str__(self) -> str:
        return "one of " + ", ".join(repr(v) for v in sorted(self.values, key=repr))


@dataclass(frozen=True)
class ListOf:
    """A list or tuple of at most ``max_len`` items, each satisfying ``item``."""

    item: Any
    max_len: int = 10_000
    min_len: int = 0

    def accepts(self, value: Any) -> bool:
        if not isinstance(value, (list, tuple)):
            return False
        if not self.min_len <= len(value) <= self.max_len:
            return False
        return all(_accepts(self.item, v) for v in value)

    def __str__(self) -> str:
        size = f"{self.min_len}..{self.max_len}"
        return f"a list of {size} items, each {describe([self.item])}"


@dataclass(frozen=True)
class Satisfies:
    """Anything for which ``predicate(value)`` is true; ``description`` says what that is."""

    predicate: Callable[[Any], bool]
    description: str

    def accepts(self, value: Any) -> bool:
        try:
            return bool(self.predicate(value))
        except Exception:
            return False

    def __str__(self) -> str:
        return self.description


_TYPE_NAMES = {bool: "a bool", str: "a string", int: "an int", float: "a float", dict: "a dict"}


def _accepts(form: Any, value: Any) -> bool:
    if form is None:
        return value is None
    if isinstance(form, type):
        if form is bool:
            return isinstance(value, (bool, np.bool_))
        if form in (int, float) and isinstance(value, (bool, np.bool_)):
            return False
        if form is float and isinstance(value, float):
            return math.isfinite(value)
        return isinstance(value, form)
    return form.accepts(value)


def _form_text(form: Any) -> str:
    if form is None:
        return "None"
    if isinstance(form, type):
        return _TYPE_NAMES.get(form, f"an instance of {form.__name__}")
    return str(form)


def describe(forms: Iterable[Any]) -> str:
    """Human-readable description of a list of acceptable forms ("a or b or c")."""
    return " or ".join(_form_text(f) for f in forms)


def check_value(forms: Iterable[Any], value: Any) -> bool:
    """Whether ``value`` satisfies any of ``forms``."""
    return any(_accepts(f, value) for f in forms)


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def validate_params(
    owner: str,
    constraints: Mapping[str, Iterable[Any]],
    values: Mapping[str, Any],
    *,
    error: type[Exception] = InputError,
) -> None:
    """Raise ``error`` naming every value in ``values`` that breaks its declared constraint.

    Values without a declared constraint are not checked (a subclass may add parameters).
    """
    problems = []
    for key, value in values.items():
        forms = constraints.get(key)
        if forms is None:
            continue
        forms = list(forms)
        if not check_value(forms, value):
            problems.append(f"{key!r} must be {describe(forms)}, got {_show(value)}")
    if problems:
        raise error(f"invalid parameter(s) of {owner}: " + "; ".join(problems))
