"""Parameter overrides of a benchmark run (``normalcy bench SUITE --param key=value``)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ..core.errors import InputError
from ..core.registry import get_class


def checked_overrides(names: Iterable[str], params: dict[str, Any] | None) -> dict[str, Any]:
    """A copy of ``params`` after checking that every detector in ``names`` takes each key."""
    overrides = dict(params or {})
    for name in names:
        accepted = get_class(name).info.params
        unknown = sorted(set(overrides) - set(accepted))
        if unknown:
            raise InputError(
                f"{name} has no parameter {', '.join(unknown)}; its parameters: {', '.join(accepted)}"
            )
    return overrides
