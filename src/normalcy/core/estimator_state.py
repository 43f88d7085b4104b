"""Safe persistence of scikit-learn-style estimators (scikit-learn, PyOD) through skops.

skops writes an estimator as a zip of a JSON schema and ``.npy`` arrays and rebuilds it
without pickle, instantiating only the types it is told to trust. skops' notion of trust
is per type name, and some trusted constructors are called with arguments taken from the
file, so a name such as ``builtins.exec`` must never be trusted. Before skops sees a blob
we audit it ourselves:

* the archive is read with the limits of ``core.model_file_limits`` (no zip bombs);
* the schema is bounded JSON, and every node in it names a loader from ``ALLOWED_LOADERS``
  and a type from ``ALLOWED_TYPES``: the exact types the estimators normalcy wraps are
  made of (found by fitting every tabular detector that stores estimators and listing
  what skops writes), nothing else;
* every ``.npy`` member is a plain numeric array whose header agrees with its length, and
  the schema refers to members at most a few times over (a schema cannot make skops read
  one large array thousands of times).

After skops has rebuilt the estimator we check what compiled code would otherwise index
without bounds checks: decision trees (child and feature indices, finite thresholds and
values), KD/ball trees (index arrays, node ranges) and one-class SVMs (support-vector
counts). A crafted file is a ``ModelFileError``, never a segmentation fault.
"""

from __future__ import annotations

import io
import json
import re
import zipfile
from typing import Any

import numpy as np

from .errors import ModelFileError
from .model_file_limits import (
    MAX_ARRAYS_BYTES,
    MAX_MANIFEST_BYTES,
    EntryLimit,
    parse_json,
    read_zip_entries,
)
from .persistence import bytes_to_array
from .state_spec import DTYPE_GROUPS

# The skops loaders the wrapped estimators use.
ALLOWED_LOADERS = frozenset(
    {
        "ObjectNode",
        "DictNode",
        "ListNode",
        "TupleNode",
        "JsonNode",
        "TypeNode",
        "NdArrayNode",
        "TreeNode",
        "CachedNode",
    }
)
_NUMPY_SCALARS = tuple(f"numpy.{t}" for t in (*DTYPE_GROUPS["number"], "bool_"))
_PYOD = tuple(
    f"pyod.models.{m}"
    for m in (
        "iforest.IForest",
        "ecod.ECOD",
        "copod.COPOD",
        "hbos.HBOS",
        "knn.KNN",
        "lof.LOF",
        "pca.PCA",
        "ocsvm.OCSVM",
        "mcd.MCD",
        "loda.LODA",
        "cblof.CBLOF",
    )
)
_SKLEARN = (
    "sklearn.cluster._kmeans.KMeans",
    "sklearn.covariance._robust_covariance.MinCovDet",
    "sklearn.decomposition._pca.PCA",
    "sklearn.ensemble._iforest.IsolationForest",
    "sklearn.neighbors._kd_tree.KDTree",
    "sklearn.neighbors._ball_tree.BallTree",
    "sklearn.neighbors._lof.LocalOutlierFactor",
    "sklearn.neighbors._unsupervised.NearestNeighbors",
    "sklearn.preprocessing._data.MinMaxScaler",
    "sklearn.preprocessing._data.StandardScaler",
    "sklearn.svm._classes.OneClassSVM",
    "sklearn.tree._classes.ExtraTreeRegressor",
    "sklearn.metrics._dist_metrics.EuclideanDistance64",
    "sklearn.metrics._dist_metrics.ManhattanDistance64",
    "sklearn.metrics._dist_metrics.ChebyshevDistance64",
    "sklearn.metrics._dist_metrics.MinkowskiDistance64",
)
_PRIMITIVES = (
    "builtins.str",
    "builtins.int",
    "builtins.float",
    "builtins.bool",
    "builtins.NoneType",
)
# Exact types allowed per loader. No function, no module-level callable, nothing from
# ``builtins`` but the plain data types.
ALLOWED_TYPES: dict[str, frozenset[str]] = {
    "ObjectNode": frozenset(_PYOD + _SKLEARN),
    "DictNode": frozenset({"builtins.dict"}),
    "ListNode": frozenset({"builtins.list"}),
    "TupleNode": frozenset({"builtins.tuple"}),
    "JsonNode": frozenset(_PRIMITIVES),
    "TypeNode": frozenset(_PRIMITIVES[:4] + _NUMPY_SCALARS),
    "NdArrayNode": frozenset(("numpy.ndarray",) + _NUMPY_SCALARS),
    "TreeNode": frozenset({"sklearn.tree._tree.Tree"}),
    "CachedNode": frozenset(_PYOD + _SKLEARN + ("sklearn.tree._tree.Tree", "numpy.ndarray")),
}
ALL_ALLOWED_TYPES = frozenset().union(*ALLOWED_TYPES.values())

_NPY_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,128}\.npy$")
SCHEMA = "schema.json"
MAX_SKOPS_ENTRIES = 200_000
MAX_OBJECT_GRAPH_DEPTH = 32
MAX_REREAD_FACTOR = 4


def dump_estimator(estimator: Any) -> np.ndarray:
    """The estimator as skops bytes, wrapped in a uint8 array for safetensors.

    skops names arrays and shared-object ids after ``id()`` of the objects, so two dumps
    of one estimator differ; the bytes are canonicalised (ids and file names numbered in
    schema order, fixed zip timestamps) so that the same model always saves the same.
    """
    import skops.io as sio

    _reset_query_counters(estimator)
    return bytes_to_array(_canonical_skops(sio.dumps(estimator)))


def _reset_query_counters(obj: Any, depth: int = 0) -> None:
    """Zero the query statistics of scikit-learn's KD/ball trees (``n_calls`` and kin),
    which every search increments: they would make a model's file depend on what it
    scored before being saved."""
    if depth > 4:
        return
    if callable(getattr(obj, "reset_n_calls", None)):
        state = obj.__getstate__()
        # (data, idx, node data, bounds, leaf size, levels, nodes, n_trims, n_leaves,
        # n_splits, n_calls, ...): the four counters are search statistics, not the model
        if (
            isinstance(state, tuple)
            and len(state) > 10
            and all(isinstance(v, int) for v in state[7:11])
        ):
            obj.__setstate__((*state[:7], 0, 0, 0, 0, *state[11:]))
        return
    for value in getattr(obj, "__dict__", {}).values():
        if hasattr(value, "__dict__") or callable(getattr(value, "reset_n_calls", None)):
            _reset_query_counters(value, depth + 1)


def _canonical_skops(data: bytes) -> bytes:
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        schema = json.loads(zf.read("schema.json"))
        members = {name: zf.read(name) for name in zf.namelist() if name != "schema.json"}
    ids: dict[Any, int] = {}
    files: dict[str, str] = {}

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            out = {}
            for key, value in node.items():
                if key == "__id__":
                    out[key] = ids.setdefault(value, len(ids) + 1)
                elif key == "file" and isinstance(value, str) and value in members:
                    out[key] = files.setdefault(value, f"{len(files) + 1}.npy")
                else:
                    out[key] = walk(value)
            return out
        if isinstance(node, list):
            return [walk(v) for v in node]
        return node

    schema = walk(schema)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as out:
        for old, new in sorted(files.items(), key=lambda kv: int(kv[1].split(".")[0])):
            out.writestr(zipfile.ZipInfo(new, date_time=_EPOCH), members[old])
        out.writestr(zipfile.ZipInfo("schema.json", date_time=_EPOCH), json.dumps(schema))
    return buffer.getvalue()


_EPOCH = (1980, 1, 1, 0, 0, 0)  # the earliest zip timestamp


def _schema_nodes(schema: Any):
    """Every dict of a skops schema, depth first, without recursion."""
    stack = [schema]
    while stack:
        node = stack.pop()
        if isinstance(node, list):
            stack.extend(node)
        elif isinstance(node, dict):
            stack.extend(node.values())
            yield node


def _fail(what: str) -> ModelFileError:
    return ModelFileError(f"saved estimator: {what}")


def _audit_schema(schema: Any, files: dict[str, int]) -> set[str]:
    """Check every node of a skops schema; return the type names it uses.

    ``files``: the array members and their sizes. skops reads a member once per node
    that refers to it, so the total read is bounded (a schema cannot make one large
    member be read thousands of times).
    """
    used: set[str] = set()
    referenced_bytes = 0
    budget = MAX_REREAD_FACTOR * sum(files.values()) + MAX_MANIFEST_BYTES
    for node in _schema_nodes(schema):
        if "__loader__" not in node and "__class__" not in node and "__module__" not in node:
            continue
        loader, module, cls = node.get("__loader__"), node.get("__module__"), node.get("__class__")
        if not all(isinstance(v, str) for v in (loader, module, cls)):
            raise _fail("a schema node lacks its loader, module or class")
        name = f"{module}.{cls}"
        if loader not in ALLOWED_LOADERS:
            raise _fail(f"refers to loader {loader!r} ({name}), which is never rebuilt")
        if name not in ALLOWED_TYPES[loader]:
            raise _fail(
                f"refers to untrusted type {name!r} (loader {loader}); only the types of the "
                "estimators normalcy wraps are rebuilt"
            )
        used.add(name)
        if loader == "JsonNode":
            content = node.get("content")
            if not isinstance(content, str):
                raise _fail("a JSON value is not stored as text")
            parse_json(content.encode("utf-8"), "saved estimator value", MAX_MANIFEST_BYTES)
        if loader == "NdArrayNode":
            if node.get("type") != "numpy":
                raise _fail("holds an object array; only numeric arrays are rebuilt")
            file = node.get("file")
            if not isinstance(file, str) or file not in files:
                raise _fail(f"refers to a missing array member {str(file)[:80]!r}")
            referenced_bytes += files[file]
            if referenced_bytes > budget:
                raise _fail(
                    "refers to its array members so often that reading them would take "
                    f"over {budget} bytes"
                )
    return used


def _check_npy(name: str, data: bytes) -> tuple[int, ...]:
    """A plain numeric .npy whose header agrees with its length (no pickle, no object)."""
    from numpy.lib import format as npy

    buf = io.BytesIO(data)
    try:
        version = npy.read_magic(buf)
        if version == (1, 0):
            shape, fortran, dtype = npy.read_array_header_1_0(buf)
        elif version in ((2, 0), (3, 0)):
            shape, fortran, dtype = npy.read_array_header_2_0(buf)
        else:
            raise ValueError(f"npy version {version}")
    except Exception as exc:  # ValueError, SyntaxError from the header literal
        raise _fail(f"array member {name!r} has a malformed header ({exc})") from None
    fields = [dtype] if dtype.names is None else [dtype.fields[n][0] for n in dtype.names]
    if dtype.hasobject or any(f.kind not in "biuf" or f.shape for f in fields):
        raise _fail(f"array member {name!r} has dtype {dtype}; only numeric arrays are rebuilt")
    count = 1
    for size in shape:
        count *= int(size)
    if count * dtype.itemsize != len(data) - buf.tell():
        raise _fail(
            f"array member {name!r} declares shape {shape} ({count * dtype.itemsize} bytes) "
            f"but holds {len(data) - buf.tell()}"
        )
    return tuple(int(v) for v in shape)


def audit_blob(data: bytes) -> list[str]:
    """Check a skops blob before skops reads it; return the (allowed) types it uses."""
    import zipfile

    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            names = zf.namelist()
    except Exception as exc:
        raise _fail(f"not a valid archive ({type(exc).__name__}: {exc})") from None
    entries = {SCHEMA: EntryLimit(MAX_MANIFEST_BYTES)}
    for name in names:
        if name != SCHEMA:
            if not _NPY_NAME.match(name):
                raise _fail(f"holds an unexpected member {name[:80]!r}")
            entries[name] = EntryLimit(MAX_ARRAYS_BYTES)
    contents = read_zip_entries(
        io.BytesIO(data), entries, "saved estimator", max_entries=MAX_SKOPS_ENTRIES
    )
    schema = parse_json(contents.pop(SCHEMA), "saved estimator schema")
    if not isinstance(schema, dict) or not isinstance(schema.get("protocol"), int):
        raise _fail("its schema is not a skops schema")
    shapes = {name: _check_npy(name, member) for name, member in contents.items()}
    used = _audit_schema(schema, {k: len(v) for k, v in contents.items()})
    _audit_tree_constructors(schema, shapes)
    return sorted(used)


MAX_TREE_OUTPUTS = 10_000
MAX_TREE_FEATURES = 10_000_000


def _json_int(node: Any) -> int:
    if not isinstance(node, dict) or node.get("__loader__") != "JsonNode":
        raise _fail("a decision tree's constructor arguments are malformed")
    value = parse_json(str(node.get("content")).encode(), "saved estimator value")
    if not isinstance(value, int) or isinstance(value, bool):
        raise _fail("a decision tree's constructor arguments are not integers")
    return value


def _audit_tree_constructors(schema: Any, shapes: dict[str, tuple[int, ...]]) -> None:
    """``Tree(n_features, n_classes, n_outputs)`` copies ``n_outputs`` entries of
    ``n_classes`` without bounds checks: the array must have exactly that many."""
    for node in _schema_nodes(schema):
        if node.get("__loader__") != "TreeNode":
            continue
        try:
            args = node["__reduce__"]["args"]["content"]
            n_features, n_classes, n_outputs = args
            file = n_classes["file"]
        except (KeyError, TypeError, ValueError):
            raise _fail("a decision tree's constructor arguments are malformed") from None
        n_features, n_outputs = _json_int(n_features), _json_int(n_outputs)
        if not 1 <= n_features <= MAX_TREE_FEATURES or not 1 <= n_outputs <= MAX_TREE_OUTPUTS:
            raise _fail(f"a decision tree declares {n_features} features, {n_outputs} outputs")
        if shapes.get(file) != (n_outputs,):
            raise _fail(
                f"a decision tree declares {n_outputs} outputs but its class counts have "
                f"shape {shapes.get(file)}"
            )


def load_estimator(blob: np.ndarray) -> Any:
    """Rebuild an estimator from ``dump_estimator`` output (see the module docstring)."""
    import skops.io as sio

    data = np.asarray(blob, dtype=np.uint8).tobytes()
    used = audit_blob(data)
    try:
        estimator = sio.loads(data, trusted=used)
    except Exception as exc:
        raise _fail(f"could not be rebuilt ({type(exc).__name__}: {exc})") from None
    check_rebuilt(estimator)
    return estimator


# -- checks on the rebuilt objects -----------------------------------------------------------
def _finite(name: str, arr: np.ndarray) -> None:
    if arr.dtype.kind == "f" and arr.size and not np.isfinite(arr).all():
        raise _fail(f"{name} holds NaN or infinite values")


def check_tree(tree: Any, n_features: int | None = None) -> None:
    """A scikit-learn ``Tree`` whose indices all stay inside its arrays.

    Children must be -1 (leaf, both) or later nodes (so traversal ends), features of split
    nodes must index the tree's inputs, thresholds and values must be finite.
    """
    n, capacity = int(tree.node_count), int(tree.capacity)
    if n < 1 or n != capacity:
        raise _fail(f"a decision tree declares {n} nodes but holds {capacity}")
    left = np.asarray(tree.children_left)
    right = np.asarray(tree.children_right)
    feature = np.asarray(tree.feature)
    threshold = np.asarray(tree.threshold)
    value = np.asarray(tree.value)
    n_feat = int(tree.n_features)
    if n_features is not None and n_feat != n_features:
        raise _fail(f"a decision tree expects {n_feat} features, its estimator {n_features}")
    leaf = left == -1
    if not np.array_equal(leaf, right == -1):
        raise _fail("a decision tree has a node with only one child")
    split = ~leaf
    ids = np.arange(n)
    for side in (left, right):
        if np.any(side[split] <= ids[split]) or np.any(side[split] >= n):
            raise _fail("a decision tree has child indices outside its nodes")
    if np.any(feature[split] < 0) or np.any(feature[split] >= n_feat):
        raise _fail(f"a decision tree splits on features outside [0, {n_feat})")
    _finite("a decision tree's thresholds", threshold[split])
    _finite("a decision tree's values", value)


def check_binary_tree(tree: Any) -> None:
    """A scikit-learn ``KDTree``/``BallTree`` whose index arrays and nodes are consistent."""
    data, idx, nodes, bounds = (np.asarray(a) for a in tree.get_arrays())
    if data.ndim != 2 or idx.ndim != 1 or idx.shape[0] != data.shape[0]:
        raise _fail("a neighbour tree's data and index arrays disagree")
    n, d = data.shape
    _finite("a neighbour tree's data", data)
    if idx.size and (idx.min() < 0 or idx.max() >= n):
        raise _fail("a neighbour tree's index array points outside its data")
    n_nodes = nodes.shape[0]
    if nodes.ndim != 1 or n_nodes < 1:
        raise _fail("a neighbour tree has no nodes")
    start, end, is_leaf = nodes["idx_start"], nodes["idx_end"], nodes["is_leaf"]
    if np.any(start < 0) or np.any(end > n) or np.any(start > end):
        raise _fail("a neighbour tree's nodes cover rows outside its data")
    inner = np.flatnonzero(is_leaf == 0)
    if inner.size and 2 * int(inner.max()) + 2 >= n_nodes:
        raise _fail("a neighbour tree's inner nodes have children outside its nodes")
    expected = {(2, n_nodes, d), (n_nodes, d)}
    if bounds.shape not in expected:
        raise _fail(f"a neighbour tree's node bounds have shape {bounds.shape}")
    _finite("a neighbour tree's node bounds", bounds)


def check_one_class_svm(svm: Any) -> None:
    """A scikit-learn ``OneClassSVM`` whose support-vector arrays agree (libsvm trusts them)."""
    sv = np.asarray(svm.support_vectors_)
    n_sv = sv.shape[0] if sv.ndim == 2 else -1
    shape_fit = tuple(getattr(svm, "shape_fit_", ()))
    ok = (
        sv.ndim == 2
        and len(shape_fit) == 2
        and sv.shape[1] == shape_fit[1]
        and np.asarray(svm._n_support).shape == (2,)
        and 0 <= int(np.asarray(svm._n_support).min())
        and int(np.asarray(svm._n_support).max()) <= n_sv
        and np.asarray(svm._dual_coef_).shape == (1, n_sv)
        and np.asarray(svm.support_).shape == (n_sv,)
        and np.asarray(svm._intercept_).shape == (1,)
        and not getattr(svm, "_sparse", False)
        and isinstance(svm.kernel, str)
    )
    if not ok:
        raise _fail("a one-class SVM's support-vector arrays disagree")
    for name in ("support_vectors_", "_dual_coef_", "_intercept_"):
        _finite(f"a one-class SVM's {name}", np.asarray(getattr(svm, name)))
    if not np.isfinite(float(svm._gamma)):
        raise _fail("a one-class SVM's gamma is not finite")


def _check_forest(forest: Any) -> None:
    n_in = int(forest.n_features_in_)
    for tree, features in zip(forest.estimators_, forest.estimators_features_, strict=True):
        features = np.asarray(features)
        if features.size and (features.min() < 0 or features.max() >= n_in):
            raise _fail("an isolation forest draws features outside its inputs")
        check_tree(tree.tree_, n_features=features.size)


def check_rebuilt(obj: Any) -> None:
    """Walk a rebuilt estimator and check every part compiled code indexes without checks."""
    from sklearn.ensemble import IsolationForest
    from sklearn.neighbors import BallTree, KDTree
    from sklearn.svm import OneClassSVM
    from sklearn.tree._tree import Tree

    seen: set[int] = set()
    stack: list[tuple[Any, int]] = [(obj, 0)]
    try:
        while stack:
            item, depth = stack.pop()
            if id(item) in seen or isinstance(item, (str, bytes, int, float, bool, type(None))):
                continue
            seen.add(id(item))
            if depth > MAX_OBJECT_GRAPH_DEPTH:
                raise _fail("its objects are nested too deeply")
            if isinstance(item, np.ndarray):
                if item.dtype.hasobject:
                    raise _fail("holds an object array")
                continue
            if isinstance(item, Tree):
                check_tree(item)
                continue
            if isinstance(item, (KDTree, BallTree)):
                check_binary_tree(item)
                continue
            if isinstance(item, OneClassSVM):
                check_one_class_svm(item)
            if isinstance(item, IsolationForest) and hasattr(item, "estimators_"):
                _check_forest(item)
            if isinstance(item, dict):
                stack.extend((v, depth + 1) for v in item.values())
            elif isinstance(item, (list, tuple)):
                stack.extend((v, depth + 1) for v in item)
            elif hasattr(item, "__dict__"):
                stack.extend((v, depth + 1) for v in vars(item).values())
    except ModelFileError:
        raise
    except Exception as exc:  # a missing attribute or a wrong type where we look
        raise _fail(f"its rebuilt parts are malformed ({type(exc).__name__}: {exc})") from None
