"""One audit entry, and the exact text its hash commits to: its record.

The record is every field in a fixed order (``HASHED``), as text, joined by the ASCII
unit separator (0x1F). No field can contain that character: control and line-breaking
characters are replaced in every field before an entry exists, so the record splits
back into exactly its fields, and no field can start a new line in an export. The
database stores the record split in two: the fields searched by, in columns, and the
rest as one text; the chain hashes the whole record.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from datetime import UTC, datetime, timedelta
from itertools import islice
from typing import Any

GENESIS = "0" * 64
"""The predecessor of the first entry ever appended."""

MAX_FIELD = 1024
"""Longer values (a client's path, a resource name) are cut to this many characters."""
MAX_ITEMS = 100
"""A resources value that is a list or an object keeps at most this many items."""
MAX_RESOURCES = 4 * MAX_FIELD
"""The resources of one entry, as JSON text, are at most this many characters."""

# Every control and line-breaking character: C0, DEL, C1 (U+0085 NEXT LINE among them),
# and the Unicode line and paragraph separators (the only characters of categories Zl
# and Zp). Nothing in the log can then forge a line of an export or a terminal, for any
# reader that splits lines (Python's str.splitlines breaks at U+0085, U+2028, U+2029).
# Bidirectional formatting characters go too: in a terminal or an editor they reorder
# what is shown, so an entry could display another principal or path than it holds.
BIDI = frozenset([0x061C, 0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x2066, 0x206A)])
CONTROL = frozenset([*range(0x20), *range(0x7F, 0xA0), 0x2028, 0x2029, *BIDI])
_REPLACED = dict.fromkeys(CONTROL, "\ufffd")


def clean(value: str, limit: int = MAX_FIELD) -> str:
    """``value`` cut to ``limit``, without control characters or unencodable surrogates."""
    text = value[:limit]
    if text.isprintable():  # the common case: nothing to replace (U+0020 is printable)
        return text
    return text.translate(_REPLACED).encode("utf-8", "replace").decode("utf-8")


def _bounded(value: Any, limit: int, items: int, nested: bool = True) -> Any:
    """``value`` ready to be serialized within bounds: text cleaned and cut to ``limit``,
    lists and objects cut to ``items`` items, one level of nesting (deeper: "...")."""
    if isinstance(value, str):
        return clean(value, limit)
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)  # NaN is not JSON
    if nested and isinstance(value, list | tuple):
        return [_bounded(v, limit, items, False) for v in value[:items]]
    if nested and isinstance(value, Mapping):
        kept = islice(value.items(), items)
        return {clean(str(k), limit): _bounded(v, limit, items, False) for k, v in kept}
    if isinstance(value, list | tuple | Mapping):
        return "..."
    return clean(str(value), limit)


def _json(named: Mapping[str, Any]) -> str:
    return json.dumps(named, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


# Tighter and tighter bounds for the values, until the whole fits in MAX_RESOURCES.
_SHRINKING = ((MAX_FIELD, MAX_ITEMS), (256, 25), (64, 8), (16, 2))


def now_us() -> int:
    """Microseconds since the Unix epoch, UTC."""
    return time.time_ns() // 1000


@dataclass
class Entry:
    """What one request did. ``seq`` and ``hash`` are given when it is appended."""

    time_us: int  # when the request arrived, microseconds since the epoch (UTC)
    request_id: str
    principal: str  # authenticated name, or "anonymous"
    auth_method: str  # basic | token | oidc | anonymous | local (the CLI)
    client: str  # client address as the server saw it
    method: str
    route: str  # MLflow's route template (path parameters as {name}), else the path
    action: str  # semantic action from the route table, e.g. "run.read"
    resources: str  # JSON object of what the request names, e.g. {"run_id": "..."}
    status: int  # HTTP status answered
    bytes_in: int
    bytes_out: int
    duration_us: int
    seq: int = 0
    hash: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        for name in TEXT_FIELDS:
            value = getattr(self, name)
            if not value.isprintable():
                setattr(self, name, clean(value, len(value)))

    @classmethod
    def from_record(cls, record: str, chain_hash: str = "") -> Entry:
        parts = record.split(SEPARATOR)
        if len(parts) != len(HASHED):
            raise ValueError(f"an audit record has {len(parts)} fields, not {len(HASHED)}")
        values: dict[str, Any] = {
            name: int(part) if name in INT_FIELDS else part
            for name, part in zip(HASHED, parts, strict=True)
        }
        entry = cls(**values, hash=chain_hash)
        entry.__dict__.update(values)  # as stored, byte for byte: what the hash commits to
        return entry

    @staticmethod
    def resources_json(named: Mapping[str, Any]) -> str:
        """The canonical JSON text of a resources mapping (sorted keys, no spaces).

        Always a valid JSON object of at most ``MAX_RESOURCES`` characters: values are
        cleaned and cut before they are serialized, never the JSON text itself. Values
        are cut tighter until the whole fits; if it still does not, the last keys (in
        sorted order) are left out.
        """
        top = dict(islice(named.items(), MAX_ITEMS))
        for limit, items in _SHRINKING:
            bounded = {clean(str(k), limit): _bounded(v, limit, items) for k, v in top.items()}
            text = _json(bounded)
            if len(text) <= MAX_RESOURCES:
                return text
        keys = sorted(bounded)
        while len(text) > MAX_RESOURCES:
            del bounded[keys.pop()]
            text = _json(bounded)
        return text

    def canonical(self) -> str:
        """The record: what is stored, and what the hash commits to."""
        return SEPARATOR.join([str(getattr(self, name)) for name in HASHED])

    def chained(self, previous: str) -> str:
        """This entry's hash, committing to its predecessor's."""
        return link(previous, self.canonical())

    def resources_dict(self) -> dict[str, Any]:
        """The resources as a mapping. Earlier versions could store them cut mid-JSON;
        such an entry reads as ``{"unparsed": <the stored text>}`` instead of failing."""
        if not self.resources:
            return {}
        try:
            named = json.loads(self.resources)
        except ValueError:
            named = None
        return named if isinstance(named, dict) else {"unparsed": self.resources}

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["time"] = iso_time(self.time_us)
        data["resources"] = self.resources_dict()
        return data


SEPARATOR = "\x1f"
HASHED = ("seq", "time_us", "principal", "action", "request_id", "auth_method", "client",
          "method", "route", "resources", "status", "bytes_in", "bytes_out", "duration_us")
"""The fields of a record, in order: everything but the hash itself. The fields stored
in search columns come first; the rest of the record is stored as one text."""
SEARCHED = 4  # seq, time_us, principal, action


def record_of(seq: int, time_us: int, principal: str, action: str, rest: str) -> str:
    """The record, rebuilt from how it is stored."""
    return f"{seq}\x1f{time_us}\x1f{principal}\x1f{action}\x1f{rest}"


def rest_of(record: str) -> str:
    """The part of a record stored as one text."""
    return record.split(SEPARATOR, SEARCHED)[SEARCHED]
INT_FIELDS = frozenset(("seq", "time_us", "status", "bytes_in", "bytes_out", "duration_us"))
TEXT_FIELDS = tuple(name for name in HASHED if name not in INT_FIELDS)


def link(previous: str, canonical: str) -> str:
    return hashlib.sha256(bytes.fromhex(previous) + canonical.encode("utf-8")).hexdigest()


EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def iso_time(time_us: int) -> str:
    return (EPOCH + timedelta(microseconds=time_us)).isoformat(timespec="microseconds")


def time_us_of(moment: datetime) -> int:
    """Microseconds since the epoch of an aware datetime (naive ones are taken as UTC)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return (moment - EPOCH) // timedelta(microseconds=1)


assert set(HASHED) == {f.name for f in fields(Entry)} - {"hash"}, "HASHED must list every field"
