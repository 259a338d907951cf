"""JSON Schemas of event envelopes and examples built from field examples; no broker code. The committed
snapshots of both (and the AsyncAPI document) are kept by shared.contracts.snapshots."""
from __future__ import annotations

import inspect
import uuid
from datetime import UTC, datetime
from typing import Any

from shared.contracts import topics
from shared.contracts.envelope import Envelope, Event, new_envelope

DRAFT = "https://json-schema.org/draft/2020-12/schema"


def schema_id(cls: type[Event]) -> str:
    """A stable name for the schema; a URN because nothing serves these files at a URL."""
    return f"urn:beilei:events:{cls.type_name}:v{cls.version}"


def snapshot_name(cls: type[Event]) -> str:
    return f"{cls.type_name}.v{cls.version}.json"


def docstring(cls: type) -> str:
    """The class docstring as text: paragraphs kept, source line breaks joined."""
    paragraphs = inspect.cleandoc(cls.__doc__ or "").split("\n\n")
    return "\n\n".join(" ".join(p.split()) for p in paragraphs)


def envelope_schema(cls: type[Event]) -> dict[str, Any]:
    """Schema (draft 2020-12) of a whole envelope carrying `cls`: type and version are consts and
    payload is the event's own schema. Nested models live in the top-level $defs."""
    envelope = Envelope.model_json_schema()
    payload = cls.model_json_schema()
    defs = payload.pop("$defs", {})
    properties = dict(envelope["properties"])
    properties["type"] = {**properties["type"], "const": cls.type_name}
    properties["version"] = {**properties["version"], "const": cls.version}
    properties["key"] = {
        **properties["key"],
        "description": f"Partition key: the payload's {cls.key_field}, so its events keep their order.",
    }
    properties["payload"] = {**payload, "description": docstring(cls)}
    schema: dict[str, Any] = {
        "$schema": DRAFT,
        "$id": schema_id(cls),
        "title": f"{cls.type_name} v{cls.version}",
        "description": docstring(cls),
        "type": "object",
        "properties": properties,
        "required": list(envelope["required"]),
        "x-topic": cls.topic,
        "x-key-field": cls.key_field,
    }
    if defs:
        schema["$defs"] = defs
    return schema


def example_payload(cls: type[Event]) -> dict[str, Any]:
    """A payload made of the first example of every field (optional ones included)."""
    return {name: field.examples[0] for name, field in cls.model_fields.items() if field.examples}


def example_event(cls: type[Event]) -> Event:
    return cls.model_validate(example_payload(cls))


def producer_of(cls: type[Event]) -> str:
    """Who puts `cls` on its topic: a service, or a school system for ingest records."""
    for service, topic in topics.PRODUCES.items():
        if topic == cls.topic:
            return service
    for producer, topic in topics.EXTERNAL_PRODUCES.items():
        if topic == cls.topic:
            return producer
    raise LookupError(f"nobody produces {cls.topic}")


def example_envelope(cls: type[Event]) -> Envelope:
    """A deterministic example envelope (fixed ids and time), so generated documents are stable."""
    event_id = uuid.uuid5(uuid.NAMESPACE_URL, schema_id(cls))
    return new_envelope(
        example_event(cls),
        producer=producer_of(cls),
        correlation_id=f"req-{event_id.hex[:12]}",
        occurred_at=datetime(2025, 9, 12, 9, 42, tzinfo=UTC),
        event_id=event_id,
    )
