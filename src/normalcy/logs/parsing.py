"""Raw log lines → templates with Drain3, and a parser state that is plain JSON.

Drain (He et al., "Drain: An Online Log Parsing Approach with Fixed Depth Tree", ICWS
2017) groups lines into templates with a fixed-depth prefix tree; the ``drain3`` library
implements it. normalcy uses the library for mining and matching but never its
persistence: Drain3 saves with ``jsonpickle``, whose loader can build arbitrary objects
(running code from a crafted file). ``LogParser.state()`` is instead a JSON object of the
settings and the mined templates (id, tokens, size), and ``LogParser.from_state`` rebuilds
the tree from it after checking every value.

Determinism: the tree a Drain instance builds while learning depends on the order in which
templates were generalised. After learning, ``LogParser`` rebuilds its tree from the final
templates (in cluster-id order), exactly as ``from_state`` does, so a fitted parser and the
same parser read back from a model file match every line identically.

Masking: before mining, values that are variables in almost every system (IP addresses,
HDFS block ids, hexadecimal numbers, numbers, file paths) are replaced by typed masks
(``<IP>``, ``<BLK>``, ...), the practice of Drain3's own example configuration; the masked
tokens count as parameters, and their type names the field (used by GLAD).

Text policy: lines are ``str``; ``bytes`` are decoded as UTF-8 with invalid sequences
replaced by U+FFFD (a log file is rarely clean UTF-8, and one bad byte must not stop a
run); other types raise ``InputError``. Lines longer than ``MAX_LINE_CHARS`` are cut there.
Empty and whitespace-only lines are kept and become the template ``""``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from ..core.errors import InputError, ModelFileError

MAX_LINE_CHARS = 10_000
MAX_TEMPLATES = 100_000
MAX_TOKENS = 2_000
WILDCARD = "<*>"

# (mask name, pattern): applied in this order; the first ones are the most specific.
DEFAULT_MASKS: tuple[tuple[str, str], ...] = (
    ("BLK", r"blk_-?\d+"),
    ("IP", r"(?<![\w.])\d{1,3}(?:\.\d{1,3}){3}(?::\d+)?(?![\w.])"),
    ("UUID", r"\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b"),
    ("HEX", r"(?<![\w])0x[0-9a-fA-F]+\b"),
    ("PATH", r"(?<![\w])(?:/[\w.\-]+){2,}/?"),
    ("NUM", r"(?<![\w.\-])[-+]?\d+(?:\.\d+)?(?![\w.])"),
)
_MASK_TOKEN = re.compile(r"<([A-Z]+|\*)>")


def as_text(line: Any, where: str = "line") -> str:
    """One log line as ``str`` (see the module's text policy)."""
    if isinstance(line, bytes | bytearray | memoryview):
        line = bytes(line).decode("utf-8", errors="replace")
    elif not isinstance(line, str):
        raise InputError(f"{where} must be a str or bytes log line, got {type(line).__name__}")
    if len(line) > MAX_LINE_CHARS:
        line = line[:MAX_LINE_CHARS]
    return line.replace("\x00", "\ufffd")


@dataclass(frozen=True)
class ParsedLine:
    """A line's template (its event key) and its variable fields as (type, value) pairs."""

    template: str
    params: tuple[tuple[str, str], ...]


class LogParser:
    """Drain3 template mining with typed masks and a JSON state.

    Parameters
    ----------
    similarity : float
        Drain's similarity threshold ``sim_th``: a line joins a template when at least this
        share of their tokens agree.
    depth : int
        Depth of Drain's prefix tree (>= 3).
    max_children : int
        Most children of an inner tree node.
    masks : sequence of (name, regex)
        Typed masks applied before mining (``DEFAULT_MASKS``).
    """

    def __init__(
        self,
        similarity: float = 0.4,
        depth: int = 4,
        max_children: int = 100,
        masks: Sequence[tuple[str, str]] = DEFAULT_MASKS,
    ) -> None:
        self.similarity = float(similarity)
        self.depth = int(depth)
        self.max_children = int(max_children)
        self.masks = tuple((str(n), str(p)) for n, p in masks)
        self._compiled = [(name, re.compile(pattern)) for name, pattern in self.masks]
        self._patterns = dict(self._compiled)
        self._miner = self._new_miner()
        self._cache: dict[str, ParsedLine] = {}

    # -- mining ---------------------------------------------------------------------------
    def _new_miner(self) -> Any:
        from drain3 import TemplateMiner
        from drain3.template_miner_config import TemplateMinerConfig

        config = TemplateMinerConfig()  # never read drain3.ini from the working directory
        config.drain_sim_th = self.similarity
        config.drain_depth = self.depth
        config.drain_max_children = self.max_children
        config.masking_instructions = []  # masking is done here, with typed masks
        config.parametrize_numeric_tokens = True
        return TemplateMiner(config=config)

    def mask(self, line: str) -> str:
        for name, regex in self._compiled:
            line = regex.sub(f"<{name}>", line)
        return line

    def learn(self, lines: Iterable[Any]) -> None:
        """Mine templates from ``lines`` (then the tree is rebuilt canonically)."""
        drain = self._miner.drain
        for i, line in enumerate(lines):
            masked = self.mask(as_text(line, f"line {i}"))
            if len(masked.split()) > MAX_TOKENS:
                masked = " ".join(masked.split()[:MAX_TOKENS])
            drain.add_log_message(masked)
            if len(drain.id_to_cluster) > MAX_TEMPLATES:
                raise InputError(
                    f"more than {MAX_TEMPLATES} distinct templates: these lines do not look like "
                    "log lines of a few message types (check the input or raise similarity)"
                )
        self._rebuild([(c.cluster_id, list(c.log_template_tokens), c.size) for c in drain.clusters])

    def _rebuild(self, clusters: list[tuple[int, list[str], int]]) -> None:
        from drain3.drain import LogCluster

        self._miner = self._new_miner()
        drain = self._miner.drain
        for cluster_id, tokens, size in sorted(clusters):
            cluster = LogCluster(list(tokens), cluster_id)
            cluster.size = size
            drain.id_to_cluster[cluster_id] = cluster
            drain.add_seq_to_prefix_tree(drain.root_node, cluster)
            drain.clusters_counter = max(drain.clusters_counter, cluster_id)
        self._cache.clear()

    @property
    def templates(self) -> list[str]:
        """The mined templates, in cluster-id order."""
        return [c.get_template() for c in sorted(self._miner.drain.clusters, key=_cid)]

    # -- matching -------------------------------------------------------------------------
    def parse(self, line: Any, where: str = "line") -> ParsedLine:
        """The template of ``line`` among the mined ones and its variable fields; a line no
        template matches keeps its own masked text as template (an unseen event)."""
        text = as_text(line, where)
        hit = self._cache.get(text)
        if hit is not None:
            return hit
        masked = self.mask(text)
        tokens = masked.split()[:MAX_TOKENS]
        cluster = self._miner.drain.match(" ".join(tokens), full_search_strategy="fallback")
        template_tokens = list(cluster.log_template_tokens) if cluster is not None else tokens
        fields = _params(text, tokens, template_tokens, self._patterns)
        parsed = ParsedLine(" ".join(template_tokens), fields)
        if len(self._cache) < 50_000:
            self._cache[text] = parsed
        return parsed

    def parse_many(self, lines: Iterable[Any]) -> list[ParsedLine]:
        return [self.parse(line, f"line {i}") for i, line in enumerate(lines)]

    # -- state ----------------------------------------------------------------------------
    def state(self) -> dict[str, Any]:
        """Settings and templates as plain JSON (no pickle, no jsonpickle)."""
        return {
            "similarity": self.similarity,
            "depth": self.depth,
            "max_children": self.max_children,
            "masks": [list(m) for m in self.masks],
            "clusters": [
                [c.cluster_id, list(c.log_template_tokens), c.size]
                for c in sorted(self._miner.drain.clusters, key=_cid)
            ],
        }

    @classmethod
    def from_state(cls, state: Any) -> LogParser:
        """Rebuild a parser from ``state()``; every value is checked (``ModelFileError``)."""
        if not isinstance(state, dict) or set(state) != {
            "similarity",
            "depth",
            "max_children",
            "masks",
            "clusters",
        }:
            raise ModelFileError("log parser state must be an object with the keys of state()")
        sim, depth, children = state["similarity"], state["depth"], state["max_children"]
        if not isinstance(sim, int | float) or isinstance(sim, bool) or not 0 <= sim <= 1:
            raise ModelFileError(f"log parser similarity must be in [0, 1], got {sim!r}")
        for key, value, high in (("depth", depth, 100), ("max_children", children, 100_000)):
            if not isinstance(value, int) or isinstance(value, bool) or not 3 <= value <= high:
                if key == "depth" or not 1 <= value <= high:
                    raise ModelFileError(f"log parser {key} out of range: {value!r}")
        masks = state["masks"]
        if not isinstance(masks, list) or len(masks) > 100 or not all(_is_mask(m) for m in masks):
            raise ModelFileError("log parser masks must be a list of [NAME, regex] pairs")
        clusters = state["clusters"]
        if not isinstance(clusters, list) or len(clusters) > MAX_TEMPLATES:
            raise ModelFileError(f"log parser clusters must be a list of at most {MAX_TEMPLATES}")
        seen: set[int] = set()
        for c in clusters:
            if not (
                isinstance(c, list)
                and len(c) == 3
                and isinstance(c[0], int)
                and not isinstance(c[0], bool)
                and 1 <= c[0] <= 10**9
                and c[0] not in seen
                and isinstance(c[1], list)
                and 1 <= len(c[1]) <= MAX_TOKENS
                and all(isinstance(t, str) and 0 < len(t) <= MAX_LINE_CHARS for t in c[1])
                and isinstance(c[2], int)
                and not isinstance(c[2], bool)
                and c[2] >= 0
            ):
                raise ModelFileError(f"malformed log parser cluster {str(c)[:80]}")
            seen.add(c[0])
        try:
            parser = cls(float(sim), depth, children, [tuple(m) for m in masks])
        except re.error as exc:
            raise ModelFileError(f"log parser mask is not a valid regex: {exc}") from None
        parser._rebuild([(c[0], c[1], c[2]) for c in clusters])
        return parser


def _cid(cluster: Any) -> int:
    return cluster.cluster_id


def _is_mask(m: Any) -> bool:
    return (
        isinstance(m, list)
        and len(m) == 2
        and isinstance(m[0], str)
        and re.fullmatch(r"[A-Z]{1,20}", m[0]) is not None
        and isinstance(m[1], str)
        and 0 < len(m[1]) <= 500
    )


def _params(
    text: str,
    masked_tokens: list[str],
    template_tokens: list[str],
    patterns: dict[str, re.Pattern[str]],
) -> tuple[tuple[str, str], ...]:
    """Variable fields of a line: (mask type, raw value) where the template has a mask or
    ``<*>``. Aligns the raw and masked tokens when their counts agree (masks replace
    single tokens in almost every log; the value is what the mask's pattern matched inside
    the token), else keeps the mask types with empty values."""
    raw = text.split()[:MAX_TOKENS]
    out: list[tuple[str, str]] = []
    aligned = len(raw) == len(masked_tokens) == len(template_tokens)
    for i, tok in enumerate(template_tokens):
        m = _MASK_TOKEN.search(tok)
        if m is None:
            continue
        kind = m.group(1)
        if kind == "*" and i < len(masked_tokens):
            inner = _MASK_TOKEN.search(masked_tokens[i])
            kind = inner.group(1) if inner and inner.group(1) != "*" else "TOKEN"
        value = raw[i] if aligned else ""
        pattern = patterns.get(kind)
        found = pattern.search(value) if pattern is not None and value else None
        out.append((kind, found.group(0) if found else value))
    return tuple(out)
