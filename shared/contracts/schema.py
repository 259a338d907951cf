"""JSON Schemas of event envelopes, examples built from field examples, and the committed snapshots; no broker code."""
from __future__ import annotations

import inspect
import json
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from shared.contracts import topics
from shared.contracts.compat import breaking_changes
from shared.contracts.envelope import Envelope, Event, new_envelope
from shared.contracts.registry import EVENT_TYPES

SCHEMAS_DIR = Path(__file__).parent / "schemas"
REPO_ROOT = Path(__file__).resolve().parents[2]
ASYNCAPI_PATH = REPO_ROOT / "docs" / "asyncapi.json"
DRAFT = "https://json-schema.org/draft/2020-12/schema"
WRITE_HINT = "run python -m shared.contracts write"


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
        occurred_at=datetime(2025, 9, 12, 9, 42, tzinfo=timezone.utc),
        event_id=event_id,
    )


def render(document: dict[str, Any]) -> str:
    """How generated JSON files are written, so that comparing them is comparing text."""
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def expected_files() -> dict[Path, str]:
    """Every generated file and the text it should have, from the current code."""
    from shared.contracts.asyncapi import asyncapi_document

    files = {SCHEMAS_DIR / snapshot_name(cls): render(envelope_schema(cls)) for cls in EVENT_TYPES.values()}
    files[ASYNCAPI_PATH] = render(asyncapi_document())
    return files


def check() -> tuple[list[str], list[str]]:
    """Compare the committed files with the code: (breaking changes, stale or missing files)."""
    breaking: list[str] = []
    stale: list[str] = []
    for cls in EVENT_TYPES.values():
        path = SCHEMAS_DIR / snapshot_name(cls)
        if path.exists():
            committed = json.loads(path.read_text(encoding="utf-8"))
            breaking += [f"{cls.type_name} v{cls.version} {m}" for m in breaking_changes(committed, envelope_schema(cls))]
    known = {snapshot_name(cls) for cls in EVENT_TYPES.values()}
    for path in sorted(SCHEMAS_DIR.glob("*.json")):
        if path.name not in known:
            breaking.append(
                f"{path.name}: no event class any more; a published version stays readable forever, keep its class"
            )
    for path, text in expected_files().items():
        name = path.relative_to(REPO_ROOT)
        if not path.exists():
            stale.append(f"{name} is missing")
        elif path.read_text(encoding="utf-8") != text:
            stale.append(f"{name} is out of date")
    return breaking, stale


def write(*, allow_breaking: bool = False) -> list[str]:
    """Regenerate the snapshots and the AsyncAPI document. Refuses (returns the breaking changes,
    writes nothing) when a committed schema would change incompatibly: that needs a new version."""
    breaking, _ = check()
    if breaking and not allow_breaking:
        return breaking
    SCHEMAS_DIR.mkdir(parents=True, exist_ok=True)
    expected = expected_files()
    for path, text in expected.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
    if allow_breaking:
        for path in SCHEMAS_DIR.glob("*.json"):
            if path not in expected:
                path.unlink()
    return []
