"""Exception hierarchy: every error normalcy raises on purpose is a ``NormalcyError``."""

from __future__ import annotations


class NormalcyError(Exception):
    """Base class of all errors raised by normalcy."""


class InputError(NormalcyError, ValueError):
    """The data handed to a detector is not what it accepts (the message says what was expected)."""


class NotFittedError(NormalcyError, RuntimeError):
    """A detector was asked to score or save before ``fit``."""


class NonFiniteScoreError(NormalcyError, ArithmeticError):
    """A detector produced NaN scores or maps; they are never returned to the caller."""


class ModelFileError(NormalcyError, OSError):
    """A model file is truncated, tampered with, foreign, or from a newer format."""


class UnknownDetectorError(NormalcyError, KeyError):
    """No detector is registered under the requested name."""

    def __str__(self) -> str:  # KeyError quotes its message; keep it readable
        return str(self.args[0]) if self.args else ""
