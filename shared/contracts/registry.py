"""Every event type by (name, version), and the bytes <-> (Envelope, Event) codec; no broker code."""
from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any

from pydantic import ValidationError

from shared.contracts import attendance, audit, billing, enrollment, ingest, notification
from shared.contracts.envelope import Envelope, Event
from shared.privacy import redact

MODULES = (enrollment, attendance, ingest, billing, notification, audit)


def _build(classes: Iterable[type[Event]]) -> dict[tuple[str, int], type[Event]]:
    table: dict[tuple[str, int], type[Event]] = {}
    for cls in classes:
        key = (cls.type_name, cls.version)
        if key in table:
            raise RuntimeError(f"{key[0]} v{key[1]} is defined twice: {table[key].__qualname__} and {cls.__qualname__}")
        table[key] = cls
    return table


EVENT_TYPES: dict[tuple[str, int], type[Event]] = _build(cls for module in MODULES for cls in module.EVENTS)


class ContractError(ValueError):
    """A message that does not honour its contract. str(error) is the human-readable reason; `code`
    is a short stable kind for metrics and DLQ records."""

    def __init__(self, reason: str, *, code: str) -> None:
        super().__init__(reason)
        self.reason = reason
        self.code = code


def event_type(name: str, version: int) -> type[Event]:
    """The class for a type name and version; ContractError if there is none."""
    try:
        return EVENT_TYPES[(name, version)]
    except KeyError:
        known = sorted(v for (n, v) in EVENT_TYPES if n == name)
        if known:
            raise ContractError(
                f"unknown version {version} of event type {name!r} (known: {', '.join(map(str, known))})",
                code="unknown_type",
            ) from None
        raise ContractError(f"unknown event type {name!r} version {version}", code="unknown_type") from None


# Reasons end up in DLQ records and logs: never echo a phone number (or any long digit run) in full.
_DIGITS = re.compile(r"\d{7,}")


def _redact(text: str) -> str:
    # Any long digit run, and phone and ID numbers however they are written (grouped 138-1234-5678, say).
    return _DIGITS.sub(lambda m: f"{m[0][:3]}****{m[0][-4:]}", redact(text))


def _where(loc: tuple[Any, ...], prefix: str) -> str:
    path = prefix
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else f".{part}"
    return path


def _describe(exc: ValidationError, prefix: str, *, limit: int = 5) -> str:
    parts = []
    for err in exc.errors(include_url=False)[:limit]:
        where = _where(tuple(err["loc"]), prefix)
        message = err["msg"]
        if err["type"] not in ("missing",) and "input" in err and not isinstance(err["input"], (dict, list)):
            shown = _redact(repr(err["input"]))
            message += f" (got {shown[:60] + '...' if len(shown) > 60 else shown})"
        parts.append(f"{where}: {message}")
    more = exc.error_count() - limit
    if more > 0:
        parts.append(f"and {more} more")
    return "; ".join(parts)


def decode(raw: bytes, *, topic: str | None = None) -> tuple[Envelope, Event]:
    """Parse a record value into its envelope and typed payload, or raise ContractError saying exactly
    what is wrong (R15: reject what is invalid with a clear reason). If `topic` is given, the type
    must belong on it."""
    try:
        # The common case in one pass of pydantic's own JSON parser (half the cost of json.loads and a
        # dict validation); anything it refuses is read again below, to say precisely what is wrong.
        envelope = Envelope.model_validate_json(raw)
    except ValidationError:
        envelope = _envelope(raw)
    return envelope, _payload(envelope, topic)


def _envelope(raw: bytes) -> Envelope:
    if not raw:
        raise ContractError("empty message: expected a JSON envelope", code="not_json")
    try:
        text = bytes(raw).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ContractError(f"not UTF-8: invalid byte at position {exc.start}", code="not_json") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ContractError(
            f"not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}", code="not_json"
        ) from None
    except RecursionError:
        raise ContractError("not JSON this service reads: nested too deeply", code="not_json") from None
    if not isinstance(data, dict):
        raise ContractError(f"not a JSON object: got {type(data).__name__}", code="not_object")
    try:
        return Envelope.model_validate(data)
    except ValidationError as exc:
        raise ContractError(f"invalid envelope: {_describe(exc, '$')}", code="bad_envelope") from None


def _payload(envelope: Envelope, topic: str | None) -> Event:
    cls = event_type(envelope.type, envelope.version)
    if topic is not None and cls.topic != topic:
        raise ContractError(
            f"{envelope.type} v{envelope.version} belongs on {cls.topic}, not {topic}", code="wrong_topic"
        )
    try:
        event = cls.model_validate(envelope.payload)
    except ValidationError as exc:
        raise ContractError(
            f"invalid {envelope.type} v{envelope.version} payload: {_describe(exc, '$.payload')}", code="bad_payload"
        ) from None
    if envelope.key != event.partition_key():
        # A wrong key would put the event on another partition and break per-key ordering.
        raise ContractError(
            f"envelope key {envelope.key!r} does not match payload {cls.key_field} {event.partition_key()!r}",
            code="key_mismatch",
        )
    return event


def encode(envelope: Envelope) -> bytes:
    """Compact UTF-8 JSON of an envelope, as it travels on a topic (pydantic's serialiser: a fifth of
    the cost of model_dump and json.dumps, byte for byte the same)."""
    return envelope.model_dump_json().encode("utf-8")
