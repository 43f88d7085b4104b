"""Hostile model files: loading one never executes code, crashes the process or exhausts memory.

Every case builds a file an attacker could write (checksums recomputed where that is what
an attacker would do) and asserts that ``nc.load`` either refuses it with a
``ModelFileError`` or, for files that are still the original, loads it with identical
scores. A tally of the cases tried and of promise violations is printed at the end of the
module (``-s`` to see it) and written to ``$NORMALCY_HOSTILE_REPORT`` when set.
"""

from __future__ import annotations

import io
import json
import os
import stat
import struct
import tracemalloc
import zipfile
import zlib
from collections import Counter
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import normalcy as nc
from normalcy.core import persistence, registry
from normalcy.core.base import TabularDetector
from normalcy.core.constraints import Integral, Interval, Options
from normalcy.core.estimator_state import dump_estimator, load_estimator
from normalcy.core.persistence import ARRAYS, MANIFEST, MANIFEST_HASH, SIGNATURE
from normalcy.core.state_spec import ArraySpec, StateSpec

RNG = np.random.default_rng(7)
TRAIN = RNG.normal(size=(60, 3))
HOLDOUT = RNG.normal(size=(30, 3))
TEST = np.vstack([RNG.normal(size=(10, 3)), np.full((2, 3), 5.0)])
FOREST, MEAN, HUB = "hostile-test-forest", "hostile-test-mean", "hostile-test-hub"

# -- tally of cases and violations ------------------------------------------------------------
TALLY: Counter = Counter()
VIOLATIONS: list[str] = []


@pytest.fixture(scope="module", autouse=True)
def _report():
    yield
    lines = [
        f"hostile model files: {TALLY['cases']} cases tried, {TALLY['refused']} refused with "
        f"ModelFileError, {TALLY['identical']} loaded with identical scores, "
        f"{TALLY['loaded']} loaded (resealed edits), {len(VIOLATIONS)} promise violations"
    ] + [f"  violation: {v}" for v in VIOLATIONS[:20]]
    print("\n" + "\n".join(lines))
    out = os.environ.get("NORMALCY_HOSTILE_REPORT")
    if out:
        Path(out).write_text(
            json.dumps({**TALLY, "violations": len(VIOLATIONS), "examples": VIOLATIONS[:20]})
        )


def _violation(what: str) -> None:
    VIOLATIONS.append(what)
    pytest.fail(what)


def expect_refused(path: Path, match: str | None = None, **kwargs: Any) -> nc.ModelFileError:
    """``nc.load(path)`` must raise ModelFileError (and nothing else)."""
    TALLY["cases"] += 1
    try:
        nc.load(path, **kwargs)
    except nc.ModelFileError as exc:
        TALLY["refused"] += 1
        if match is not None:
            assert match in str(exc), f"{match!r} not in {exc}"
        return exc
    except BaseException as exc:  # noqa: BLE001 - any other error breaks the promise
        _violation(f"{path.name}: {type(exc).__name__}: {exc}"[:300])
    _violation(f"{path.name}: loaded, expected a ModelFileError")
    raise AssertionError  # unreachable


def expect_refused_or_identical(path: Path, reference: np.ndarray) -> str:
    """For damaged copies of a real file: refused, or loads and scores exactly as before."""
    TALLY["cases"] += 1
    try:
        det = nc.load(path)
    except nc.ModelFileError:
        TALLY["refused"] += 1
        return "refused"
    except BaseException as exc:  # noqa: BLE001
        _violation(f"damaged file: {type(exc).__name__}: {exc}"[:300])
    if not np.array_equal(det.score(TEST).scores, reference):
        _violation("a damaged file loaded and scores differently")
    TALLY["identical"] += 1
    return "identical"


def expect_refused_or_loads(path: Path) -> str:
    """For resealed edits (checksums recomputed): refused, or loads and scores finitely."""
    TALLY["cases"] += 1
    try:
        det = nc.load(path)
    except nc.ModelFileError:
        TALLY["refused"] += 1
        return "refused"
    except BaseException as exc:  # noqa: BLE001
        _violation(f"resealed edit: {type(exc).__name__}: {exc}"[:300])
    scores = det.score(TEST).scores
    if not np.all(np.isfinite(scores)):
        _violation("a resealed edit loaded and gives non-finite scores")
    TALLY["loaded"] += 1
    return "loaded"


# -- test-only detectors ----------------------------------------------------------------------
class _Forest(TabularDetector):
    """Isolation forest stored through skops (exercises the estimator path)."""

    modality = "tabular"
    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "n_estimators": [Interval(Integral, 1, 50)],
        "seed": [Interval(Integral, 0, None)],
    }

    def __init__(self, n_estimators: int = 3, seed: int = 0) -> None:
        self.n_estimators = n_estimators
        self.seed = seed

    def _fit(self, X):
        from sklearn.ensemble import IsolationForest

        self.model_ = IsolationForest(
            n_estimators=self.n_estimators, max_samples=32, random_state=self.seed
        ).fit(X)
        self.center_ = X.mean(axis=0)

    def _score(self, X):
        return -self.model_.score_samples(X) + 0.0 * np.abs(X - self.center_).sum(axis=1)

    def _get_state(self):
        return {"estimator": dump_estimator(self.model_), "center": self.center_}, {
            "kind": "forest"
        }

    def _set_state(self, arrays, meta):
        self.model_ = load_estimator(arrays["estimator"])
        self.center_ = arrays["center"]

    def _state_spec(self):
        return StateSpec(
            arrays={
                "estimator": ArraySpec(("blob",), dtype="uint8", finite=False),
                "center": ArraySpec(("d",), dtype="float64"),
            },
            meta={"kind": [Options(str, {"forest"})]},
            dims={"d": self.n_features_in_},
        )


class _Mean(_Forest):
    """Same parameters, another method and state: the target of a relabelling."""

    def _fit(self, X):
        self.center_ = X.mean(axis=0)

    def _score(self, X):
        return np.abs(X - self.center_).sum(axis=1)

    def _get_state(self):
        return {"center": self.center_}, {}

    def _set_state(self, arrays, meta):
        self.center_ = arrays["center"]

    def _state_spec(self):
        return StateSpec(
            arrays={"center": ArraySpec(("d",), dtype="float64")}, dims={"d": self.n_features_in_}
        )


class _Hub(_Mean):
    """Builds a hub backbone lazily when scoring (or eagerly on load with ``eager``)."""

    modality = "image"
    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        **_Forest._parameter_constraints,
        "eager": [bool],
    }

    def __init__(self, n_estimators: int = 3, seed: int = 0, eager: bool = False) -> None:
        super().__init__(n_estimators, seed)
        self.eager = eager

    def _score(self, X):
        from normalcy.image.backbones import _hub_model

        _hub_model("resnet18")
        return super()._score(X)

    def _set_state(self, arrays, meta):
        super()._set_state(arrays, meta)
        if self.eager:
            from normalcy.image.backbones import _hub_model

            _hub_model("resnet18")


@pytest.fixture(scope="module", autouse=True)
def _detectors():
    """Register the test-only detectors for this module only."""
    registry._load_families()
    made = {
        FOREST: ("tabular", _Forest),
        MEAN: ("tabular", _Mean),
        HUB: ("image", _Hub),
    }
    for name, (modality, cls) in made.items():
        registry.register(name, modality=modality, paper="test only", year=2026)(cls)
    yield
    for name in made:
        registry._REGISTRY.pop(name, None)
        registry._INFO.pop(name, None)


@pytest.fixture(scope="module")
def model(tmp_path_factory, _detectors):
    det = nc.create(FOREST).fit(TRAIN)
    det.calibrate(HOLDOUT, fpr=0.1)
    path = det.save(tmp_path_factory.mktemp("hostile") / "forest.normalcy")
    return path, det.score(TEST).scores


# -- building hostile files --------------------------------------------------------------------
def entries_of(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as zf:
        return {name: zf.read(name) for name in zf.namelist()}


def write_zip(path: Path, entries: dict[str, bytes], method: int = zipfile.ZIP_DEFLATED) -> Path:
    with zipfile.ZipFile(path, "w", method) as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
    return path


def reseal(entries: dict[str, bytes], manifest: dict | None = None) -> dict[str, bytes]:
    """Recompute the checksums as an attacker would (drops any signature)."""
    manifest = json.loads(entries[MANIFEST]) if manifest is None else manifest
    manifest["arrays_sha256"] = persistence._sha256(entries[ARRAYS])
    if manifest.get("signed") is True:
        manifest["signed"] = False
    body = json.dumps(manifest).encode()
    out = {k: v for k, v in entries.items() if k != SIGNATURE}
    out[MANIFEST], out[MANIFEST_HASH] = body, persistence._sha256(body).encode()
    return out


def with_manifest(path: Path, dst: Path, edit) -> Path:
    entries = entries_of(path)
    manifest = json.loads(entries[MANIFEST])
    edit(manifest)
    return write_zip(dst, reseal(entries, manifest))


def with_raw_manifest(path: Path, dst: Path, body: bytes) -> Path:
    entries = entries_of(path)
    entries[MANIFEST], entries[MANIFEST_HASH] = body, persistence._sha256(body).encode()
    return write_zip(dst, entries)


def with_blob(path: Path, dst: Path, blob: bytes) -> Path:
    """Replace the stored estimator (skops bytes) and reseal."""
    from safetensors.numpy import load, save

    entries = entries_of(path)
    arrays = load(entries[ARRAYS])
    arrays["estimator"] = np.frombuffer(blob, dtype=np.uint8).copy()
    entries[ARRAYS] = save(arrays)
    return write_zip(dst, reseal(entries))


def blob_of(path: Path) -> bytes:
    from safetensors.numpy import load

    return load(entries_of(path)[ARRAYS])["estimator"].tobytes()


def raw_zip(members: list[dict[str, Any]]) -> bytes:
    """A zip written by hand: each member gives name, data (already compressed), and may
    override method, flags, crc, usize (declared uncompressed size)."""
    out, central = io.BytesIO(), io.BytesIO()
    for m in members:
        name = m["name"].encode()
        data = m["data"]
        method, flags = m.get("method", 0), m.get("flags", 0)
        crc = m.get("crc", zlib.crc32(data) if method == 0 else 0)
        usize = m.get("usize", len(data))
        offset = out.tell()
        out.write(
            struct.pack(
                "<IHHHHHIIIHH",
                0x04034B50,
                20,
                flags,
                method,
                0,
                0x21,
                crc,
                len(data),
                usize,
                len(name),
                0,
            )
        )
        out.write(name + data)
        central.write(
            struct.pack(
                "<IHHHHHHIIIHHHHHII",
                0x02014B50,
                20,
                20,
                flags,
                method,
                0,
                0x21,
                crc,
                len(data),
                usize,
                len(name),
                0,
                0,
                0,
                0,
                0,
                offset,
            )
        )
        central.write(name)
    cd_offset, cd = out.tell(), central.getvalue()
    out.write(cd)
    out.write(
        struct.pack(
            "<IHHHHIIH", 0x06054B50, 0, 0, len(members), len(members), len(cd), cd_offset, 0
        )
    )
    return out.getvalue()


def deflate_zeros(n_chunks: int, chunk: int = 16 << 20) -> bytes:
    """Raw deflate of ``n_chunks * chunk`` zero bytes, built from one compressed chunk."""
    comp = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = comp.compress(bytes(chunk)) + comp.flush(zlib.Z_FULL_FLUSH)
    return block * n_chunks + zlib.compressobj(9, zlib.DEFLATED, -15).flush(zlib.Z_FINISH)


def deflate(data: bytes) -> bytes:
    comp = zlib.compressobj(6, zlib.DEFLATED, -15)
    return comp.compress(data) + comp.flush()


def members_of(path: Path, **override: dict[str, Any]) -> list[dict[str, Any]]:
    """The real file's entries as raw members (deflated), with per-name overrides."""
    out = []
    for name, data in entries_of(path).items():
        m = {"name": name, "data": deflate(data), "method": 8, "crc": zlib.crc32(data)}
        m["usize"] = len(data)
        m.update(override.get(name, {}))
        out.append(m)
    return out


def peak_python_bytes(func) -> int:
    tracemalloc.start()
    try:
        func()
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return peak


# -- sanity: the file is good ----------------------------------------------------------------
def test_the_real_file_round_trips(model):
    path, reference = model
    loaded = nc.load(path)
    np.testing.assert_array_equal(loaded.score(TEST).scores, reference)
    assert loaded.threshold is not None


# -- code execution through skops --------------------------------------------------------------
def _skops_schema(obj: Any) -> dict:
    import skops.io as sio

    with zipfile.ZipFile(io.BytesIO(sio.dumps(obj))) as zf:
        return json.loads(zf.read("schema.json"))


def _skops_blob(schema: dict, members: dict[str, bytes] | None = None) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("schema.json", json.dumps(schema))
        for name, data in (members or {}).items():
            zf.writestr(name, data)
    return buf.getvalue()


def _node(module: str, cls: str, loader: str, content: Any = None) -> dict:
    node = {"__class__": cls, "__module__": module, "__loader__": loader}
    if content is not None:
        node["content"] = content
    return node


def _str_node(text: str) -> dict:
    return {**_node("builtins", "str", "JsonNode", json.dumps(text)), "is_json": True}


def _evil_nodes(marker: Path) -> list[tuple[str, dict]]:
    code = f"open({str(marker)!r}, 'w').write('ran')"
    shell = f"touch {marker}"
    args = lambda text: _node("builtins", "tuple", "TupleNode", [_str_node(text)])  # noqa: E731
    out = []
    for module, func, text in [
        ("builtins", "exec", code),
        ("builtins", "eval", f"exec({code!r})"),
        ("os", "system", shell),
        ("posix", "system", shell),
        ("subprocess", "getoutput", shell),
        ("builtins", "__import__", "os"),
    ]:
        out.append(
            (
                f"reduce-{module}.{func}",
                _node(module, func, "ConstructorFromReduceNode", args(text)),
            )
        )
    for loader in (
        "ObjectNode",
        "ListNode",
        "TupleNode",
        "DictNode",
        "SetNode",
        "TypeNode",
        "FunctionNode",
    ):
        content = {
            "__class__": "dict",
            "__module__": "builtins",
            "__loader__": "DictNode",
            "content": {},
        }
        content = [_str_node(code)] if loader in ("ListNode", "TupleNode", "SetNode") else content
        out.append((f"{loader}-builtins.exec", _node("builtins", "exec", loader, content)))
    out.append(
        (
            "partial-exec",
            {
                **_node("functools", "partial", "PartialNode"),
                "content": {
                    "func": _node("builtins", "exec", "FunctionNode"),
                    "args": args(code),
                    "kwds": _node("builtins", "dict", "DictNode", {}),
                    "namespace": _node("builtins", "dict", "DictNode", {}),
                },
            },
        )
    )
    out.append(("operator-attrgetter", _node("operator", "attrgetter", "OperatorFuncNode", {})))
    out.append(
        ("method-node", _node("os", "system", "MethodNode", {"func": "system", "obj": args(shell)}))
    )
    return out


def _nest(payload: dict) -> dict:
    """A real IsolationForest schema with ``payload`` hidden deep inside its attributes."""
    from sklearn.ensemble import IsolationForest

    schema = _skops_schema(IsolationForest(n_estimators=2))
    schema["content"]["content"]["n_estimators"] = payload
    return schema


EVIL_NAMES = [name for name, _ in _evil_nodes(Path("/x"))]


@pytest.mark.parametrize("nested", [False, True], ids=["top", "nested"])
@pytest.mark.parametrize("name", EVIL_NAMES)
def test_skops_payloads_never_run(model, tmp_path, name, nested):
    path, _ = model
    marker = tmp_path / "PWNED"
    node = dict(_evil_nodes(marker))[name]
    schema = _nest(node) if nested else {**node, "protocol": 2, "_skops_version": "0.16.0"}
    if nested:
        schema.setdefault("protocol", 2)
    bad = with_blob(path, tmp_path / "evil.normalcy", _skops_blob(schema))
    expect_refused(bad, match="saved estimator")
    assert not marker.exists(), "a payload in the model file ran"


def test_exec_payload_in_a_real_estimator_schema_with_checksums_recomputed(model, tmp_path):
    """The issue's exploit: builtins.exec inside the estimator blob, all checksums valid."""
    path, _ = model
    marker = tmp_path / "PWNED"
    blob = blob_of(path)
    with zipfile.ZipFile(io.BytesIO(blob)) as zf:
        members = {n: zf.read(n) for n in zf.namelist()}
    schema = json.loads(members.pop("schema.json"))
    schema["content"]["content"]["max_samples"] = dict(_evil_nodes(marker))["reduce-builtins.exec"]
    bad = with_blob(path, tmp_path / "evil.normalcy", _skops_blob(schema, members))
    err = expect_refused(bad)
    assert "builtins.exec" in str(err)
    assert not marker.exists()


def test_skops_schema_bombs(model, tmp_path):
    path, _ = model
    deep = "[" * 100_000 + "]" * 100_000
    cases = {
        "deep-schema": _skops_blob_text('{"protocol": 2, "x": ' + deep + "}"),
        "huge-int-schema": _skops_blob_text('{"protocol": ' + "9" * 5000 + "}"),
        "huge-int-value": _skops_blob(
            {**_node("builtins", "int", "JsonNode", "9" * 5000), "is_json": True, "protocol": 2}
        ),
        "deep-json-value": _skops_blob(
            {**_node("builtins", "list", "JsonNode", deep), "is_json": True, "protocol": 2}
        ),
        "schema-not-json": _skops_blob_text("{nope"),
        "schema-list": _skops_blob_text("[]"),
        "not-a-zip": b"PK\x03\x04garbage",
        "empty": b"",
    }
    for name, blob in cases.items():
        expect_refused(with_blob(path, tmp_path / f"{name}.normalcy", blob))


def _skops_blob_text(text: str) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("schema.json", text)
    return buf.getvalue()


def test_skops_array_member_bombs(model, tmp_path):
    """Inner .npy members: zip bomb, header lying about its shape, re-read amplification."""
    path, _ = model
    blob = blob_of(path)
    with zipfile.ZipFile(io.BytesIO(blob)) as zf:
        members = {n: zf.read(n) for n in zf.namelist()}
    schema = json.loads(members.pop("schema.json"))
    npy = next(n for n in members if n.endswith(".npy"))
    # a header declaring 10**12 elements over a few bytes of data
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        buf, {"descr": "<f8", "fortran_order": False, "shape": (10**12,)}
    )
    lying = {**members, npy: buf.getvalue() + b"\0" * 8}
    expect_refused(with_blob(path, tmp_path / "lying.normalcy", _skops_blob(schema, lying)))
    # an object-dtype member
    obj = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        obj, {"descr": "|O", "fortran_order": False, "shape": (1,)}
    )
    expect_refused(
        with_blob(
            path, tmp_path / "obj.normalcy", _skops_blob(schema, {**members, npy: obj.getvalue()})
        )
    )
    # one 1 MiB member read 10,000 times over
    big = io.BytesIO()
    np.save(big, np.zeros(1 << 17))
    ref = {**_node("numpy", "ndarray", "NdArrayNode"), "type": "numpy", "file": "big.npy"}
    amp = {**_node("builtins", "list", "ListNode", [ref] * 10_000), "protocol": 2}
    blob = _skops_blob(amp, {"big.npy": big.getvalue()})
    peak = peak_python_bytes(
        lambda: expect_refused(with_blob(path, tmp_path / "amp.normalcy", blob))
    )
    assert peak < 256 << 20
    # an inner zip bomb: one member inflating to 1 GiB
    inner = raw_zip(
        [
            {"name": "schema.json", "data": json.dumps(schema).encode()},
            {"name": npy, "data": deflate_zeros(64), "method": 8, "usize": 1 << 30},
        ]
    )
    peak = peak_python_bytes(
        lambda: expect_refused(with_blob(path, tmp_path / "inner-bomb.normalcy", inner))
    )
    assert peak < 256 << 20


# -- crafted trees -------------------------------------------------------------------------------
def _tree_members(path: Path) -> tuple[dict, dict[str, bytes], list[str], list[str]]:
    blob = blob_of(path)
    with zipfile.ZipFile(io.BytesIO(blob)) as zf:
        members = {n: zf.read(n) for n in zf.namelist()}
    schema = json.loads(members.pop("schema.json"))
    nodes, values = [], []
    for name, data in members.items():
        arr = np.load(io.BytesIO(data))
        if arr.dtype.names and "left_child" in arr.dtype.names:
            nodes.append(name)
        elif arr.ndim == 3:
            values.append(name)
    return schema, members, nodes, values


def _save_npy(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, arr)
    return buf.getvalue()


TREE_EDITS = {
    "left-child-out-of-range": ("nodes", lambda a: a["left_child"].__setitem__(0, 10**6)),
    "right-child-negative": ("nodes", lambda a: a["right_child"].__setitem__(0, -7)),
    "child-loops-to-itself": ("nodes", lambda a: a["left_child"].__setitem__(0, 0)),
    "only-one-child": ("nodes", lambda a: a["right_child"].__setitem__(0, -1)),
    "feature-out-of-range": ("nodes", lambda a: a["feature"].__setitem__(0, 10**6)),
    "feature-negative": ("nodes", lambda a: a["feature"].__setitem__(0, -3)),
    "threshold-nan": ("nodes", lambda a: a["threshold"].__setitem__(0, np.nan)),
    "value-inf": ("values", lambda a: a.__setitem__((0, 0, 0), np.inf)),
}


@pytest.mark.parametrize("edit", list(TREE_EDITS))
def test_crafted_trees_are_refused(model, tmp_path, edit):
    """Out-of-range child/feature indices would make scikit-learn read outside its arrays."""
    path, _ = model
    schema, members, nodes, values = _tree_members(path)
    kind, change = TREE_EDITS[edit]
    target = (nodes if kind == "nodes" else values)[0]
    arr = np.load(io.BytesIO(members[target])).copy()
    change(arr)
    members[target] = _save_npy(arr)
    bad = with_blob(path, tmp_path / f"{edit}.normalcy", _skops_blob(schema, members))
    err = expect_refused(bad)
    assert "tree" in str(err)


TREE_STATE_EDITS = {
    "node-count-too-large": lambda t: t["content"]["content"]["node_count"].update(
        content="1000000"
    ),
    "node-count-negative": lambda t: t["content"]["content"]["node_count"].update(content="-1"),
    "n-outputs-beyond-class-counts": lambda t: t["__reduce__"]["args"]["content"][2].update(
        content="1000000"
    ),
    "n-features-zero": lambda t: t["__reduce__"]["args"]["content"][0].update(content="0"),
    "n-features-string": lambda t: t["__reduce__"]["args"]["content"][0].update(content='"2"'),
    "max-depth-huge": lambda t: t["content"]["content"]["max_depth"].update(content="9" * 50),
}


@pytest.mark.parametrize("edit", list(TREE_STATE_EDITS))
def test_crafted_tree_headers_are_refused(model, tmp_path, edit):
    """Counts that scikit-learn copies or allocates by without checking them."""
    path, reference = model
    schema, members, _, _ = _tree_members(path)
    TREE_STATE_EDITS[edit](_find_loader(schema, "TreeNode"))
    bad = with_blob(path, tmp_path / f"{edit}.normalcy", _skops_blob(schema, members))
    if edit == "node-count-too-large":  # scikit-learn takes the count from the nodes array
        expect_refused_or_identical(bad, reference)
    else:
        expect_refused(bad)


def _find_loader(node: Any, loader: str) -> dict:
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            if item.get("__loader__") == loader:
                return item
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    raise LookupError(loader)


def _mutated(estimator: Any, pick, change) -> np.ndarray:
    """``estimator`` as a skops blob with the first stored array ``pick`` accepts changed."""
    blob = dump_estimator(estimator).tobytes()
    with zipfile.ZipFile(io.BytesIO(blob)) as zf:
        members = {n: zf.read(n) for n in zf.namelist()}
    for name, data in members.items():
        if name.endswith(".npy"):
            arr = np.load(io.BytesIO(data))
            if pick(arr):
                arr = arr.copy()
                members[name] = _save_npy(change(arr))
                break
    else:
        raise LookupError("no array matched")
    schema = json.loads(members.pop("schema.json"))
    return np.frombuffer(_skops_blob(schema, members), dtype=np.uint8)


def _set(arr: np.ndarray, field: str | None, index: Any, value: Any) -> np.ndarray:
    (arr if field is None else arr[field])[index] = value
    return arr


def _is_permutation(arr: np.ndarray) -> bool:
    return arr.ndim == 1 and arr.dtype.kind == "i" and sorted(arr.tolist()) == list(range(60))


def _node_data(arr: np.ndarray) -> bool:
    return arr.dtype.names is not None and "is_leaf" in arr.dtype.names


def _estimator_cases():
    from sklearn.neighbors import BallTree, KDTree
    from sklearn.svm import OneClassSVM

    yield (
        "kdtree-index-out-of-range",
        KDTree(TRAIN),
        _is_permutation,
        lambda a: _set(a, None, 0, 10**6),
    )
    yield (
        "balltree-index-negative",
        BallTree(TRAIN),
        _is_permutation,
        lambda a: _set(a, None, 0, -1),
    )
    yield (
        "kdtree-leaf-made-inner",
        KDTree(TRAIN, leaf_size=20),
        _node_data,
        lambda a: _set(a, "is_leaf", -1, 0),
    )
    yield "kdtree-node-range", KDTree(TRAIN), _node_data, lambda a: _set(a, "idx_end", 0, 10**6)
    yield (
        "kdtree-data-nan",
        KDTree(TRAIN),
        lambda a: a.shape == TRAIN.shape,
        lambda a: _set(a, None, (0, 0), np.nan),
    )
    svm = OneClassSVM().fit(TRAIN)
    n_sv = svm.support_vectors_.shape[0]
    yield "svm-vectors-narrower", svm, lambda a: a.shape == (n_sv, 3), lambda a: a[:, :2]
    yield "svm-fewer-coefficients", svm, lambda a: a.shape == (1, n_sv), lambda a: a[:, :2]


ESTIMATOR_CASES = [case[0] for case in _estimator_cases()]


@pytest.mark.parametrize("case", ESTIMATOR_CASES)
def test_crafted_neighbour_trees_and_svms_are_refused(case):
    """KD/ball trees and libsvm index their arrays without bounds checks."""
    _, estimator, pick, change = next(c for c in _estimator_cases() if c[0] == case)
    blob = _mutated(estimator, pick, change)
    TALLY["cases"] += 1
    with pytest.raises(nc.ModelFileError, match="neighbour tree|one-class SVM"):
        load_estimator(blob)
    TALLY["refused"] += 1


# -- zip bombs and malformed archives --------------------------------------------------------------
def test_zip_bomb_with_honest_headers_is_refused_before_inflating(model, tmp_path):
    """~1 MB on disk, 1 GiB declared: refused from the directory, with little memory."""
    path, _ = model
    bomb = members_of(path, **{ARRAYS: {"data": deflate_zeros(64), "usize": 1 << 30, "crc": 0}})
    bad = tmp_path / "bomb.normalcy"
    bad.write_bytes(raw_zip(bomb))
    assert bad.stat().st_size < 2 << 20
    peak = peak_python_bytes(lambda: expect_refused(bad, match="zip bomb"))
    assert peak < 32 << 20, peak


def test_zip_bomb_with_lying_headers_stops_at_the_declared_size(model, tmp_path):
    """Declares the real (small) size, inflates to 1 GiB: reading stops at the declared size."""
    path, _ = model
    real = entries_of(path)[ARRAYS]
    bomb = members_of(path, **{ARRAYS: {"data": deflate_zeros(64), "usize": len(real)}})
    bad = tmp_path / "liar.normalcy"
    bad.write_bytes(raw_zip(bomb))
    peak = peak_python_bytes(lambda: expect_refused(bad))
    assert peak < 32 << 20, peak


def test_declared_sizes_and_entry_sets(model, tmp_path):
    path, _ = model
    entries = entries_of(path)
    cases = {
        "manifest-declares-100MiB": members_of(path, **{MANIFEST: {"usize": 100 << 20}}),
        "duplicate-manifest": [*members_of(path), members_of(path)[0]],
        "extra-entry": [*members_of(path), {"name": "model.pkl", "data": b"\x80\x04."}],
        "missing-arrays": [m for m in members_of(path) if m["name"] != ARRAYS],
        "encrypted-flag": members_of(path, **{ARRAYS: {"flags": 0x1}}),
        "encrypted-manifest": members_of(path, **{MANIFEST: {"flags": 0x1}}),
        "method-99-aes": members_of(path, **{ARRAYS: {"method": 99}}),
        "method-12-bzip2": members_of(path, **{MANIFEST: {"method": 12}}),
        "method-14-lzma": members_of(path, **{MANIFEST_HASH: {"method": 14}}),
        "wrong-crc": members_of(path, **{MANIFEST: {"crc": 1234}}),
        "size-mismatch": members_of(path, **{MANIFEST: {"usize": len(entries[MANIFEST]) + 5}}),
        "many-entries": [*members_of(path)] + [{"name": f"x{i}", "data": b""} for i in range(5000)],
    }
    for name, members in cases.items():
        bad = tmp_path / f"{name}.normalcy"
        bad.write_bytes(raw_zip(members))
        expect_refused(bad)
    # real bzip2 / lzma entries written by zipfile itself
    for method in (zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA):
        bad = write_zip(tmp_path / f"m{method}.normalcy", entries, method)
        expect_refused(bad, match="compression method")


# -- manifest bombs and malformed fields --------------------------------------------------------------
def test_manifest_bombs(model, tmp_path):
    path, _ = model
    manifest = json.loads(entries_of(path)[MANIFEST])
    deep = json.dumps({**manifest, "state": {"kind": "forest"}})
    deep = deep.replace('"kind": "forest"', '"kind": ' + "[" * 100_000 + "]" * 100_000)
    huge_int = json.dumps(manifest).replace('"n_estimators": 3', '"n_estimators": ' + "7" * 5000)
    assert huge_int != json.dumps(manifest)
    bodies = {
        "deep": deep.encode(),
        "deep-top": ("[" * 100_000 + "]" * 100_000).encode(),
        "huge-int": huge_int.encode(),
        "huge-manifest": json.dumps({**manifest, "pad": "x" * (17 << 20)}).encode(),
        "duplicate-key": json.dumps(manifest)
        .replace('"detector": ', f'"detector": "{MEAN}", "detector": ', 1)
        .encode(),
        "not-utf8": b'{"format": "\xff\xfe"}',
        "not-json": b"{nope",
        "array": b"[]",
        "nan-version": json.dumps({**manifest, "format_version": float("nan")}).encode(),
    }
    for name, body in bodies.items():
        expect_refused(with_raw_manifest(path, tmp_path / f"{name}.normalcy", body))


BAD_THRESHOLDS = {
    "value-string": {"value": "high"},
    "value-nan": {"value": float("nan")},
    "value-inf": {"value": float("inf")},
    "value-bool": {"value": True},
    "method-unknown": {"method": "median"},
    "method-number": {"method": 3},
    "rate-zero": {"rate": 0.0},
    "rate-one": {"rate": 1.0},
    "rate-negative": {"rate": -0.1},
    "rate-above-one": {"rate": 1.5},
    "rate-string": {"rate": "0.1"},
    "n-small": {"n_calibration": 3},
    "n-float": {"n_calibration": 20.5},
    "n-bool": {"n_calibration": True},
    "n-huge": {"n_calibration": 10**39},
    "n-huge-digits": {"n_calibration": 10**60},
    "extra-key": {"extra": 1},
}


@pytest.mark.parametrize("case", [*BAD_THRESHOLDS, "missing-key", "list", "string"])
def test_malformed_thresholds(model, tmp_path, case):
    path, _ = model

    def edit(m):
        if case == "missing-key":
            del m["threshold"]["rate"]
        elif case == "list":
            m["threshold"] = [1, 2]
        elif case == "string":
            m["threshold"] = "0.5"
        else:
            m["threshold"].update(BAD_THRESHOLDS[case])

    expect_refused(with_manifest(path, tmp_path / f"{case}.normalcy", edit), match="threshold")


BAD_FIELDS = {
    "params-list": ("params", []),
    "params-unknown": ("params", {"n_estimators": 3, "seed": 0, "evil": 1}),
    "params-out-of-range": ("params", {"n_estimators": -1, "seed": 0}),
    "params-wrong-type": ("params", {"n_estimators": "many", "seed": 0}),
    "params-huge": ("params", {"n_estimators": 10**30, "seed": 0}),
    "fitted-string": ("fitted", "yes"),
    "detector-number": ("detector", 5),
    "detector-unknown": ("detector", "from-the-future"),
    "modality-mismatch": ("modality", "image"),
    "modality-number": ("modality", 1),
    "input-spec-null": ("input_spec", None),
    "input-spec-bad-n": ("input_spec", {"n_features": "x", "feature_names": None}),
    "input-spec-wrong-n": ("input_spec", {"n_features": 7, "feature_names": None}),
    "input-spec-empty": ("input_spec", {}),
    "state-list": ("state", []),
    "state-extra-key": ("state", {"kind": "forest", "more": 1}),
    "state-bad-value": ("state", {"kind": "exec"}),
    "version-bool": ("format_version", True),
    "version-zero": ("format_version", 0),
    "version-newer": ("format_version", 99),
    "unknown-field": ("surprise", 1),
    "signed-string": ("signed", "no"),
}


@pytest.mark.parametrize("case", [*BAD_FIELDS, "missing-field", "unfitted-with-state"])
def test_malformed_manifest_fields(model, tmp_path, case):
    path, _ = model

    def edit(m):
        if case == "missing-field":
            del m["created_utc"]
        elif case == "unfitted-with-state":
            m["fitted"] = False
        else:
            key, value = BAD_FIELDS[case]
            m[key] = value

    expect_refused(with_manifest(path, tmp_path / f"{case}.normalcy", edit))


def test_relabelled_detectors_are_refused(model, tmp_path):
    """A forest relabelled as another detector (same parameters) never runs the wrong method."""
    path, _ = model
    for target in (MEAN, "ecod", "iforest"):
        bad = with_manifest(
            path, tmp_path / f"as-{target}.normalcy", lambda m, t=target: m.update(detector=t)
        )
        expect_refused(bad)
    bad = with_manifest(path, tmp_path / "image.normalcy", lambda m: m.update(modality="image"))
    expect_refused(bad, match="modality")


def test_version_1_files_still_load(model, tmp_path):
    path, reference = model

    def edit(m):
        m["format_version"] = 1
        del m["signed"]

    old = with_manifest(path, tmp_path / "v1.normalcy", edit)
    np.testing.assert_array_equal(nc.load(old).score(TEST).scores, reference)


# -- random damage (hypothesis) -----------------------------------------------------------------------
SETTINGS = settings(
    max_examples=int(os.environ.get("NORMALCY_HOSTILE_EXAMPLES", "80")),
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@SETTINGS
@given(data=st.data())
def test_random_byte_flips_are_refused_or_harmless(model, tmp_path, data):
    path, reference = model
    raw = bytearray(path.read_bytes())
    flips = data.draw(st.lists(st.integers(0, len(raw) - 1), min_size=1, max_size=8))
    for pos in flips:
        raw[pos] ^= data.draw(st.integers(1, 255))
    bad = tmp_path / "flipped.normalcy"
    bad.write_bytes(bytes(raw))
    expect_refused_or_identical(bad, reference)


@SETTINGS
@given(data=st.data())
def test_random_truncations_and_insertions(model, tmp_path, data):
    path, reference = model
    raw = path.read_bytes()
    cut = data.draw(st.integers(0, len(raw)))
    if data.draw(st.booleans()):
        mutated = raw[:cut]
    else:
        mutated = raw[:cut] + data.draw(st.binary(min_size=1, max_size=64)) + raw[cut:]
    bad = tmp_path / "cut.normalcy"
    bad.write_bytes(mutated)
    expect_refused_or_identical(bad, reference)


@SETTINGS
@given(data=st.data())
def test_flips_in_the_estimator_with_checksums_recomputed(model, tmp_path, data):
    """An attacker editing the skops blob and fixing every checksum: refused, or a model that
    still scores (finite scores); never another exception or a crash."""
    path, _ = model
    blob = bytearray(blob_of(path))
    for pos in data.draw(st.lists(st.integers(0, len(blob) - 1), min_size=1, max_size=6)):
        blob[pos] ^= data.draw(st.integers(1, 255))
    expect_refused_or_loads(with_blob(path, tmp_path / "resealed.normalcy", bytes(blob)))


@SETTINGS
@given(data=st.data())
def test_edits_to_tree_arrays_with_checksums_recomputed(model, tmp_path, data):
    """Random values written into the trees' node arrays, the file resealed."""
    path, _ = model
    schema, members, nodes, _ = _tree_members(path)
    name = data.draw(st.sampled_from(nodes))
    arr = np.load(io.BytesIO(members[name])).copy()
    field = data.draw(st.sampled_from(["left_child", "right_child", "feature", "threshold"]))
    i = data.draw(st.integers(0, arr.shape[0] - 1))
    if field == "threshold":
        arr[field][i] = data.draw(st.floats(allow_nan=True, allow_infinity=True))
    else:
        arr[field][i] = data.draw(st.integers(-(2**40), 2**40))
    members[name] = _save_npy(arr)
    bad = with_blob(path, tmp_path / "tree.normalcy", _skops_blob(schema, members))
    expect_refused_or_loads(bad)


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=8,
)


@SETTINGS
@given(data=st.data())
def test_random_manifest_values_with_checksums_recomputed(model, tmp_path, data):
    path, _ = model
    manifest = json.loads(entries_of(path)[MANIFEST])
    key = data.draw(st.sampled_from(sorted(manifest) + ["extra"]))
    manifest[key] = data.draw(JSON_VALUES)
    sub = data.draw(st.sampled_from(["threshold", "params", "input_spec", "state"]))
    if isinstance(manifest.get(sub), dict) and manifest[sub]:
        inner = data.draw(st.sampled_from(sorted(manifest[sub])))
        manifest[sub][inner] = data.draw(JSON_VALUES)
    entries = reseal(entries_of(path), manifest)
    expect_refused_or_loads(write_zip(tmp_path / "values.normalcy", entries))


# -- signing -------------------------------------------------------------------------------------------------
def test_signing(model, tmp_path, monkeypatch):
    monkeypatch.delenv("NORMALCY_MODEL_KEY", raising=False)
    _, reference = model
    det = nc.load(model[0])
    signed = det.save(tmp_path / "signed.normalcy", key="s3cret")
    unsigned = det.save(tmp_path / "unsigned.normalcy")
    # the right key verifies; no key loads a signed file (its signature unchecked)
    np.testing.assert_array_equal(nc.load(signed, key="s3cret").score(TEST).scores, reference)
    np.testing.assert_array_equal(nc.load(signed).score(TEST).scores, reference)
    assert persistence.describe_model_file(signed)["signature"].startswith("signed (not verified")
    assert persistence.describe_model_file(signed, key=b"s3cret")["signature"].endswith("verified")
    expect_refused(signed, match="signature does not match", key="wrong")
    expect_refused(unsigned, match="not signed", key="s3cret")
    # an attacker edits the params and recomputes every checksum, without the key
    forged = with_manifest(
        signed, tmp_path / "forged.normalcy", lambda m: m["params"].update(seed=5)
    )
    expect_refused(forged, key="s3cret")
    # ... or keeps the signature entry and claims it is signed
    entries = entries_of(signed)
    manifest = json.loads(entries[MANIFEST])
    manifest["params"]["seed"] = 5
    body = json.dumps(manifest).encode()
    entries[MANIFEST], entries[MANIFEST_HASH] = body, persistence._sha256(body).encode()
    expect_refused(
        write_zip(tmp_path / "kept-sig.normalcy", entries), match="signature", key="s3cret"
    )
    # signature entry present but the manifest says unsigned (and vice versa)
    stripped = {k: v for k, v in entries_of(signed).items() if k != SIGNATURE}
    expect_refused(write_zip(tmp_path / "stripped.normalcy", stripped), match="signed")
    garbage = {**entries_of(signed), SIGNATURE: b'{"algorithm": "md5", "mac": 1}'}
    expect_refused(write_zip(tmp_path / "garbage-sig.normalcy", garbage), key="s3cret")
    # the environment variable signs and requires signatures
    monkeypatch.setenv("NORMALCY_MODEL_KEY", "from-env")
    expect_refused(unsigned, match="not signed")
    env_signed = det.save(tmp_path / "env.normalcy")
    np.testing.assert_array_equal(nc.load(env_signed).score(TEST).scores, reference)
    expect_refused(signed, match="signature does not match")
    with pytest.raises(nc.NormalcyError):
        det.save(tmp_path / "empty-key.normalcy", key="")


# -- no network on load ------------------------------------------------------------------------------------
@pytest.fixture
def hub_calls(monkeypatch):
    torch = pytest.importorskip("torch")
    calls: list[tuple] = []

    def fake_load(*args, **kwargs):
        calls.append(args)
        return object()

    monkeypatch.setattr(torch.hub, "load", fake_load)
    import normalcy.image.backbones as backbones

    monkeypatch.setattr(backbones.torch.hub, "load", fake_load)
    return calls


def test_loading_never_downloads_unless_allowed(tmp_path, hub_calls):
    det = nc.create(HUB).fit(TRAIN)
    det.score(TEST)  # created directly: downloads allowed
    assert len(hub_calls) == 1
    path = det.save(tmp_path / "hub.normalcy")
    loaded = nc.load(path)  # builds lazily: nothing fetched yet
    TALLY["cases"] += 1
    with pytest.raises(nc.ModelFileError, match="allow_download=True"):
        loaded.score(TEST)  # the lazy backbone build is refused too
    TALLY["refused"] += 1
    assert len(hub_calls) == 1
    nc.load(path, allow_download=True).score(TEST)
    assert len(hub_calls) == 2
    # a file whose detector fetches its backbone while loading is refused at load
    eager = nc.create(HUB, eager=True).fit(TRAIN).save(tmp_path / "eager.normalcy")
    expect_refused(eager, match="allow_download=True")
    assert len(hub_calls) == 2
    nc.load(eager, allow_download=True)
    assert len(hub_calls) == 3


# -- writing model files -----------------------------------------------------------------------------------
@pytest.mark.parametrize("umask", [0o022, 0o027, 0o077])
def test_files_are_written_with_the_process_umask(model, tmp_path, umask):
    det = nc.load(model[0])
    old = os.umask(umask)
    try:
        path = det.save(tmp_path / "m.normalcy")
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~umask


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs POSIX FIFOs")
def test_saving_to_special_files_is_refused(model, tmp_path):
    det = nc.load(model[0])
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    link = tmp_path / "null-link"
    link.symlink_to("/dev/null")
    dangling = tmp_path / "dangling"
    dangling.symlink_to(tmp_path / "nowhere" / "x")
    targets = [fifo, link, tmp_path, dangling]
    if getattr(os, "geteuid", lambda: -1)() == 0:  # a private device node, never the system's
        dev = tmp_path / "null-device"
        os.mknod(dev, stat.S_IFCHR | 0o666, os.makedev(1, 3))
        targets.append(dev)
    for target in targets:
        TALLY["cases"] += 1
        before = os.lstat(target)
        with pytest.raises(nc.NormalcyError, match="not a regular file|symbolic link"):
            det.save(target)
        after = os.lstat(target)
        assert (before.st_mode, before.st_ino) == (after.st_mode, after.st_ino)
        TALLY["refused"] += 1
    assert Path("/dev/null").is_char_device()


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs POSIX FIFOs")
def test_loading_special_files_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "fifo.normalcy"
    os.mkfifo(fifo)  # opening it for reading would block
    link = tmp_path / "zero.normalcy"
    link.symlink_to("/dev/zero")  # reading it would never end
    for target in (fifo, link, Path("/dev/zero"), tmp_path):
        expect_refused(target, match="not a regular file")
    expect_refused(tmp_path / "missing.normalcy", match="does not exist")


# -- CLI: --force, special files, info ---------------------------------------------------------------------
@pytest.fixture
def runner():
    from typer.testing import CliRunner

    return CliRunner()


def _csv(path: Path, X: np.ndarray) -> Path:
    import pandas as pd

    pd.DataFrame(X, columns=["a", "b", "c"]).to_csv(path, index=False)
    return path


def test_cli_out_refuses_to_overwrite_without_force(tmp_path, runner):
    from normalcy.cli import app

    train, hold = _csv(tmp_path / "train.csv", TRAIN), _csv(tmp_path / "hold.csv", HOLDOUT)
    model = tmp_path / "m.normalcy"
    assert runner.invoke(app, ["fit", FOREST, str(train), "--out", str(model)]).exit_code == 0
    first = model.read_bytes()
    res = runner.invoke(app, ["fit", FOREST, str(train), "--out", str(model)])
    assert res.exit_code == 2 and "--force" in res.output
    assert model.read_bytes() == first
    res = runner.invoke(app, ["fit", FOREST, str(train), "--out", str(model), "--force"])
    assert res.exit_code == 0
    scores = tmp_path / "s.csv"
    scores.write_text("keep")
    res = runner.invoke(app, ["score", str(model), str(hold), "--out", str(scores)])
    assert res.exit_code == 2 and scores.read_text() == "keep"
    assert (
        runner.invoke(app, ["score", str(model), str(hold), "-o", str(scores), "--force"]).exit_code
        == 0
    )
    other = tmp_path / "other.normalcy"
    other.write_text("keep")
    res = runner.invoke(app, ["calibrate", str(model), str(hold), "--out", str(other)])
    assert res.exit_code == 2 and other.read_text() == "keep"
    res = runner.invoke(app, ["calibrate", str(model), str(hold), "--out", str(other), "--force"])
    assert res.exit_code == 0
    assert runner.invoke(app, ["calibrate", str(model), str(hold)]).exit_code == 0  # in place
    link = tmp_path / "null-link.normalcy"
    link.symlink_to("/dev/null")
    res = runner.invoke(app, ["fit", FOREST, str(train), "--out", str(link), "--force"])
    assert res.exit_code == 2 and "not a regular file" in res.output
    assert link.is_symlink() and Path("/dev/null").is_char_device()


def test_cli_info(model, tmp_path, runner):
    from normalcy.cli import app

    res = runner.invoke(app, ["info", str(model[0]), "--json"])
    assert res.exit_code == 0, res.output
    desc = json.loads(res.output)
    assert desc["detector"] == FOREST and desc["modality"] == "tabular"
    assert desc["signature"] == "unsigned" and desc["threshold"]["method"] == "fpr"
    assert desc["arrays"]["center"] == {"shape": [3], "dtype": "float64"}
    assert desc["input_spec"]["n_features"] == 3 and desc["format_version"] == 2
    res = runner.invoke(app, ["info", str(model[0])])
    assert res.exit_code == 0 and FOREST in res.output and "unsigned" in res.output
    bad = tmp_path / "bad.normalcy"
    bad.write_bytes(b"PK\x03\x04 nope")
    res = runner.invoke(app, ["info", str(bad)])
    assert res.exit_code == 2 and "error" in res.output


def test_the_tally_has_no_violations():
    """Runs last in this module (pytest keeps file order): every case kept the promise."""
    assert not VIOLATIONS, VIOLATIONS
