"""What a detector's saved state must look like, declared per detector and verified on load.

A model file is hostile until proven otherwise: before ``load`` builds anything, the arrays
and metadata read from the file are compared with the ``StateSpec`` the detector declares
from its (already validated) parameters and input spec. Every array must be present with
the declared dtype, rank and sizes, hold only finite values (unless declared otherwise)
and, for index arrays, only valid indices; no undeclared array or metadata key may appear.
A mismatch is a ``ModelFileError``: numba kernels, faiss and torch never see a shape they
were not built for.

Sizes are written in terms of what the detector knows: an ``int`` is an exact size, a
string names a dimension that must have the same size wherever it appears (e.g. the
memory bank ``("n", "d")`` and its norms ``("n",)``), and can be fixed in advance through
``StateSpec.dims`` (e.g. ``{"d": self.n_features_in_}``) or bounded through
``StateSpec.dim_bounds``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .constraints import check_value, describe
from .errors import ModelFileError

DTYPE_GROUPS = {
    "float": ("float16", "float32", "float64"),
    "int": ("int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64"),
    "number": (
        "float16",
        "float32",
        "float64",
        "int8",
        "int16",
        "int32",
        "int64",
        "uint8",
        "uint16",
        "uint32",
        "uint64",
    ),
}


@dataclass(frozen=True)
class ArraySpec:
    """One saved array.

    ``shape``: one entry per axis, an ``int`` (exact size) or a ``str`` (a named size,
    equal wherever the name appears). ``dtype``: a numpy dtype name ("float32", "bool",
    "uint8", ...) or a group ("float", "int", "number"), or a tuple of these.
    ``finite``: every value finite (float arrays). ``index_of``: values are indices into
    the named dimension (``0 <= v < size``; ``-1`` also allowed when ``allow_minus_one``).
    ``value_range``: inclusive (low, high) bounds on every value (``None`` = unbounded).
    ``optional``: the array may be absent.
    """

    shape: tuple[int | str, ...]
    dtype: str | tuple[str, ...] = "float"
    finite: bool = True
    index_of: str | None = None
    allow_minus_one: bool = False
    value_range: tuple[float | None, float | None] | None = None
    optional: bool = False

    def dtypes(self) -> tuple[str, ...]:
        names = (self.dtype,) if isinstance(self.dtype, str) else self.dtype
        out: list[str] = []
        for name in names:
            out.extend(DTYPE_GROUPS.get(name, (name,)))
        return tuple(out)


@dataclass(frozen=True)
class StateSpec:
    """The whole saved state of a detector: arrays, metadata keys and named sizes.

    ``meta``: for each metadata key, a list of acceptable forms (see ``core.constraints``);
    keys listed in ``optional_meta`` may be absent. ``dims``: named sizes fixed in advance.
    ``dim_bounds``: inclusive (low, high) bounds on named sizes read from the arrays.
    """

    arrays: Mapping[str, ArraySpec] = field(default_factory=dict)
    meta: Mapping[str, Iterable[Any]] = field(default_factory=dict)
    optional_meta: frozenset[str] = frozenset()
    dims: Mapping[str, int] = field(default_factory=dict)
    dim_bounds: Mapping[str, tuple[int | None, int | None]] = field(default_factory=dict)

    def merged(self, other: StateSpec) -> StateSpec:
        """This spec and ``other`` together (e.g. a detector's and its normaliser's)."""
        clash = (set(self.arrays) & set(other.arrays)) | (set(self.meta) & set(other.meta))
        if clash:
            raise ValueError(f"state specs both declare {sorted(clash)}")
        return StateSpec(
            arrays={**self.arrays, **other.arrays},
            meta={**self.meta, **other.meta},
            optional_meta=self.optional_meta | other.optional_meta,
            dims={**self.dims, **other.dims},
            dim_bounds={**self.dim_bounds, **other.dim_bounds},
        )


def _check_dims(name: str, spec: ArraySpec, arr: np.ndarray, dims: dict[str, int]) -> None:
    if arr.ndim != len(spec.shape):
        raise ModelFileError(
            f"state array {name!r} has {arr.ndim} axes, expected {len(spec.shape)} "
            f"(shape {_shape_text(spec.shape)})"
        )
    for axis, (want, got) in enumerate(zip(spec.shape, arr.shape, strict=True)):
        if isinstance(want, str):
            known = dims.setdefault(want, int(got))
            if known != got:
                raise ModelFileError(
                    f"state array {name!r} axis {axis} has size {got}, but size {want!r} is "
                    f"{known} elsewhere in the state"
                )
        elif want != got:
            raise ModelFileError(
                f"state array {name!r} axis {axis} has size {got}, expected {want} "
                f"(shape {_shape_text(spec.shape)})"
            )


def _shape_text(shape: tuple[int | str, ...]) -> str:
    return "(" + ", ".join(str(s) for s in shape) + ")"


def _check_values(name: str, spec: ArraySpec, arr: np.ndarray, dims: dict[str, int]) -> None:
    if arr.size == 0:
        return
    if spec.finite and arr.dtype.kind == "f" and not np.isfinite(arr).all():
        raise ModelFileError(f"state array {name!r} holds NaN or infinite values")
    if spec.index_of is not None:
        size = dims.get(spec.index_of)
        if size is None:
            raise ModelFileError(f"state array {name!r} indexes unknown size {spec.index_of!r}")
        low = -1 if spec.allow_minus_one else 0
        if arr.min() < low or arr.max() >= size:
            raise ModelFileError(
                f"state array {name!r} holds indices outside [{low}, {size}) "
                f"(size {spec.index_of!r})"
            )
    if spec.value_range is not None:
        low, high = spec.value_range
        if (low is not None and arr.min() < low) or (high is not None and arr.max() > high):
            raise ModelFileError(
                f"state array {name!r} holds values outside [{low}, {high}] "
                f"(found {arr.min()}..{arr.max()})"
            )


def verify_state(
    spec: StateSpec, arrays: Mapping[str, np.ndarray], meta: Mapping[str, Any]
) -> dict[str, int]:
    """Check ``arrays`` and ``meta`` against ``spec``; return the named sizes found.

    Raises ``ModelFileError`` on the first mismatch, naming the array or key.
    """
    extra = sorted(set(arrays) - set(spec.arrays))
    if extra:
        raise ModelFileError(f"the state holds arrays this detector does not use: {extra[:5]}")
    missing = sorted(k for k, s in spec.arrays.items() if not s.optional and k not in arrays)
    if missing:
        raise ModelFileError(f"the state lacks the arrays {missing[:5]}")
    dims: dict[str, int] = {k: int(v) for k, v in spec.dims.items()}
    present = [(k, s) for k, s in spec.arrays.items() if k in arrays]
    for key, aspec in present:
        arr = arrays[key]
        if not isinstance(arr, np.ndarray):
            raise ModelFileError(f"state array {key!r} is not an array")
        if arr.dtype.name not in aspec.dtypes():
            raise ModelFileError(
                f"state array {key!r} has dtype {arr.dtype.name}, expected {aspec.dtype}"
            )
        _check_dims(key, aspec, arr, dims)
    for dim, (low, high) in spec.dim_bounds.items():
        if dim in dims and (
            (low is not None and dims[dim] < low) or (high is not None and dims[dim] > high)
        ):
            raise ModelFileError(f"state size {dim!r} is {dims[dim]}, expected [{low}, {high}]")
    for key, aspec in present:
        _check_values(key, aspec, arrays[key], dims)
    if not isinstance(meta, Mapping):
        raise ModelFileError("the state metadata is not a JSON object")
    extra_meta = sorted(set(meta) - set(spec.meta))
    if extra_meta:
        raise ModelFileError(f"the state holds metadata this detector does not use: {extra_meta}")
    for key, forms in spec.meta.items():
        if key not in meta:
            if key in spec.optional_meta:
                continue
            raise ModelFileError(f"the state lacks the metadata entry {key!r}")
        forms = list(forms)
        if not check_value(forms, meta[key]):
            raise ModelFileError(
                f"state metadata {key!r} must be {describe(forms)}, got {str(meta[key])[:80]}"
            )
    return dims
