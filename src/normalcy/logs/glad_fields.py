"""Field extraction for GLAD: typed field values of a log event, offline.

GLAD (Li et al., 2023, section III-A) extracts *fields* (entities such as IP addresses,
hosts, block ids, paths, users, error codes) from each log message with a prompt-based
few-shot named-entity model, and links every event to its fields in the window graph.
That model needs a large pretrained language model and labelled shots; here the fields come
from what the parser already separated, offline and deterministically:

* the event's **parameters** (Drain3's ``<*>`` positions, or parameters given with the
  input) are typed by regular-expression rules (IPv4 address, block id, hex code, UUID,
  path, host/node name, number, user, error code) and by the word in front of their slot in
  the template (``src: /<*>`` -> ``src``);
* when a data set carries **template ids only** (no parameter values, e.g. the shared
  ``logs/hdfs`` and ``logs/openstack`` sessions), each ``<*>`` slot of the template becomes
  one field node named by its context word and type, without a value.

Values are normalised so that identity-free strings do not make one node per line: block
ids, hex codes and UUIDs keep only their type, numbers keep their order of magnitude, digits
inside paths and free tokens are masked; IP addresses, host names, users and error codes
keep their value (the relation "this event with this host" is what GLAD scores).
"""

from __future__ import annotations

import math
import re

PLACEHOLDER = "<*>"
MAX_VALUE_CHARS = 64
MAX_FIELDS_PER_EVENT = 32

_RULES: list[tuple[str, re.Pattern[str]]] = [
    ("block", re.compile(r"^blk_-?\d+$")),
    (
        "uuid",
        re.compile(
            r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
        ),
    ),
    ("ip", re.compile(r"^/?(\d{1,3}\.){3}\d{1,3}(:\d+)?$")),
    ("hex", re.compile(r"^0x[0-9a-fA-F]+$")),
    ("path", re.compile(r"^[~.]?/[^\s]*$|^[A-Za-z]:\\")),
    ("number", re.compile(r"^[-+]?\d+(\.\d+)?([eE][-+]?\d+)?[A-Za-z%]{0,3}$")),
    ("host", re.compile(r"^[A-Za-z][A-Za-z0-9_.:-]*\d[A-Za-z0-9_.:-]*$")),
]
_USER_KEYS = frozenset({"user", "username", "uid", "login", "account", "owner"})
_CODE_KEYS = frozenset({"error", "errno", "code", "status", "exception", "err", "rc", "signal"})
_WORD = re.compile(r"[A-Za-z][A-Za-z_]*")
_DIGITS = re.compile(r"\d+")


_MASK = re.compile(r"<([A-Z]+|\*)>")
_KIND_OF_MASK = {
    "BLK": "block",
    "IP": "ip",
    "UUID": "uuid",
    "HEX": "hex",
    "PATH": "path",
    "NUM": "number",
}


def slot_keys(template: str) -> list[str]:
    """The context word in front of each variable slot (``<*>`` or a typed mask such as
    ``<IP>``) of ``template``, lower case; ``""`` when no word precedes it."""
    keys = []
    parts = _MASK.split(template)[::2]  # split keeps the group: drop the mask names
    for before in parts[:-1]:
        words = _WORD.findall(before[-24:])
        keys.append(words[-1].lower()[:24] if words else "")
    return keys


def slot_kinds(template: str) -> list[str]:
    """The mask name of each slot of ``template`` ("*" for a plain ``<*>``)."""
    return _MASK.findall(template)


def _number_bucket(text: str) -> str:
    digits = re.match(r"^[-+]?\d+(\.\d+)?", text)
    try:
        value = abs(float(digits.group(0))) if digits else 0.0
    except ValueError:  # pragma: no cover - the rule only lets numbers through
        value = 0.0
    return "0" if value < 1 else f"1e{int(math.log10(value))}"


def type_value(value: str, key: str, mask: str = "") -> tuple[str, str]:
    """The (type, normalised value) of one parameter ``value`` found after the template
    word ``key``; ``mask`` is the parser's mask type when it had one (``IP``, ``NUM``...)."""
    value = value.strip().strip("'\"[](),;")[:MAX_VALUE_CHARS]
    kind = _KIND_OF_MASK.get(mask.upper(), "")
    if not value:
        return (kind or (f"slot:{key}" if key else "slot"), "")
    if not kind:
        kind = next((name for name, rule in _RULES if rule.match(value)), "token")
    if key in _USER_KEYS and kind in ("token", "host"):
        return ("user", value)
    if key in _CODE_KEYS and kind in ("number", "token", "hex"):
        return ("code", value)
    if kind in ("block", "uuid", "hex"):
        return (kind, "")
    if kind == "number":
        return ((key + ":" if key else "") + "number", _number_bucket(value))
    if kind == "ip":
        return ("ip", value.lstrip("/").split(":")[0])
    if kind == "path":
        return ("path", _DIGITS.sub("#", value))
    if kind == "host":
        return ("host", value)
    return ((key + ":" if key else "") + "token", _DIGITS.sub("#", value))


def extract_fields(template: str, params: tuple | None) -> list[tuple[str, str]]:
    """Typed fields ``[(type, value), ...]`` of one event.

    ``params``: the event's variable fields, as ``(mask type, value)`` pairs (what
    ``normalcy.logs.parsing`` gives) or plain value strings; each is typed by the rules
    and the template word in front of its slot (when the counts match). Without
    ``params``, each variable slot of ``template`` gives a value-less field named by its
    context word (or its mask type).
    """
    keys = slot_keys(template)
    if params is None:
        masks = slot_kinds(template)
        return [type_value("", k, m if m != "*" else "") for k, m in zip(keys, masks, strict=True)]
    out = []
    for i, param in enumerate(params[:MAX_FIELDS_PER_EVENT]):
        mask, value = param if isinstance(param, tuple) and len(param) == 2 else ("", param)
        key = keys[i] if len(keys) == len(params) else ""
        out.append(type_value(str(value), key, str(mask)))
    return out


def field_label(kind: str, value: str) -> str:
    """The node label of a field, e.g. ``ip=10.0.0.1`` (``ip`` for a value-less field)."""
    return f"{kind}={value}" if value else kind


def field_prompt(kind: str, value: str) -> str:
    """The text embedded for a field node, in the paper's prompt style ("X is a Y .")."""
    kind = kind.replace(":", " ").replace("_", " ")
    return f"{value} is a {kind} ." if value else f"a {kind} field of a log message ."
