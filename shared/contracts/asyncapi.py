"""Builds the AsyncAPI 3.0.0 document of every topic, event and service from the contracts; no broker code."""
from __future__ import annotations

import copy
from typing import Any

from shared.contracts import topics
from shared.contracts.envelope import Event
from shared.contracts.registry import EVENT_TYPES
from shared.contracts.schema import docstring, envelope_schema, example_envelope, snapshot_name

# Bump the minor for additive changes (new event types or optional fields), the major when a
# version of an event is retired.
DOC_VERSION = "1.0.0"
KAFKA_BINDING = "0.5.0"

DESCRIPTION = """\
Every event of the Beilei after-school services platform. Five services (enrollment, attendance,
billing, notification, audit) talk only through these topics; school systems publish raw
attendance records on attendance.ingest.

- Each record value is a JSON envelope (event_id, type, version, occurred_at, producer,
  correlation_id, causation_id, key, payload); the payload's schema depends on type and version.
- The Kafka key equals the envelope key: the student id for events about a student, so they stay
  in order; otherwise the field named in the message's key binding.
- Money is integer fen (CNY); times are UTC (RFC 3339); school-local days and wall-clock times
  are Asia/Shanghai and say so.
- Readers ignore unknown fields. A new optional field keeps the version; any other change is a
  new version published alongside the old one. Consumers deduplicate on event_id.
- A record that can never be processed goes to <topic>.dlq with the reason and the original bytes.
"""

# Mirrors the DLQ record body written by the messaging layer (shared/messaging/consumer.py).
DEAD_LETTER_SCHEMA: dict[str, Any] = {
    "type": "object",
    "title": "DeadLetter",
    "description": "A record that could never be processed, with why, by whom and where from; "
    "the original bytes are kept untouched in base64, unless they held a phone or ID number: then masked "
    "(docs/security.md, section 6). Every text here is masked likewise.",
    "properties": {
        "reason": {"type": "string", "description": "Human-readable reason, e.g. a ContractError message."},
        "kind": {"type": "string", "description": "Kind of failure: contract:<code> (undecodable; code as in ContractError), "
                 "rejected (a handler said it can never be processed) or failed (a handler kept failing)."},
        "consumer": {"type": "string", "description": "Consumer group (service) that gave up."},
        "topic": {"type": "string", "description": "Topic the record was read from."},
        "partition": {"type": "integer", "description": "Its partition."},
        "offset": {"type": "integer", "description": "Its offset."},
        "key": {"type": ["string", "null"], "description": "Its key, as text."},
        "original_b64": {"type": "string", "description": "The original record value, base64."},
        "original_redacted": {"type": "boolean", "description": "True if phone or ID numbers in the original "
                              "were masked: it cannot be republished as it was, and original_sha256 is null."},
        "original_headers": {
            "type": "object",
            "additionalProperties": {"type": "string"},
            "description": "The original record headers.",
        },
        "failed_at": {"type": "string", "format": "date-time", "description": "When it was dead-lettered."},
    },
    "required": ["reason", "topic", "original_b64"],
}


def channel_id(topic: str) -> str:
    """enrollment.events -> enrollmentEvents; attendance.events.dlq -> attendanceEventsDlq."""
    head, *rest = topic.split(".")
    return head + "".join(part.capitalize() for part in rest)


def message_id(cls: type[Event]) -> str:
    return snapshot_name(cls).removesuffix(".json")


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.capitalize() for part in rest)


def _rewrite_refs(node: Any, names: dict[str, str]) -> Any:
    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str) and value.startswith("#/$defs/"):
                out[key] = f"#/components/schemas/{names[value.removeprefix('#/$defs/')]}"
            else:
                out[key] = _rewrite_refs(value, names)
        return out
    if isinstance(node, list):
        return [_rewrite_refs(v, names) for v in node]
    return node


def _component_schemas() -> dict[str, dict[str, Any]]:
    """Every envelope schema, with nested models hoisted to components.schemas. $id and $schema are
    dropped: inside this document, references resolve against the document itself."""
    schemas: dict[str, dict[str, Any]] = {}
    for cls in EVENT_TYPES.values():
        schema = copy.deepcopy(envelope_schema(cls))
        schema.pop("$schema", None)
        schema.pop("$id", None)
        defs = schema.pop("$defs", {})
        names: dict[str, str] = {}
        for name, sub in defs.items():
            # Share a nested model only if it is identical; otherwise qualify it by its event.
            unique = name if schemas.get(name, sub) == sub else f"{cls.type_name}.{name}"
            names[name] = unique
        for name, sub in defs.items():
            schemas[names[name]] = _rewrite_refs(sub, names)
        schemas[message_id(cls)] = _rewrite_refs(schema, names)
    return dict(sorted(schemas.items()))


# What a school system puts beside each record it writes on attendance.ingest: its credential, checked
# per record against the record's school (services/attendance/handlers/record_tokens.py, docs/api.md).
INGEST_HEADERS: dict[str, Any] = {
    "type": "object",
    "required": ["authorization"],
    "properties": {
        "authorization": {
            "type": "string",
            "pattern": "^Bearer ",
            "description": "Bearer <the school system's school_system token>, the same it sends over HTTP. A record "
            "without it, with a token refused, or for another school is dead-lettered as `unauthorised` on its "
            "own; a token lapsed since is judged at the record's Kafka timestamp, within 5 minutes of skew.",
        },
    },
}


def _message(cls: type[Event]) -> dict[str, Any]:
    doc = docstring(cls)
    headers = {"headers": INGEST_HEADERS} if cls.topic == topics.ATTENDANCE_INGEST else {}
    return {
        "name": cls.type_name,
        "title": f"{cls.type_name} v{cls.version}",
        "summary": doc.split("\n\n")[0].replace("\n", " "),
        "description": doc,
        "contentType": "application/json",
        "payload": {"$ref": f"#/components/schemas/{message_id(cls)}"},
        **headers,
        "bindings": {
            "kafka": {
                "key": {
                    "type": "string",
                    "description": f"The payload's {cls.key_field} (equal to the envelope key).",
                },
                "bindingVersion": KAFKA_BINDING,
            }
        },
        "examples": [{"name": "example", "payload": example_envelope(cls).model_dump(mode="json")}],
    }


def _events_on(topic: str) -> list[type[Event]]:
    return [cls for cls in EVENT_TYPES.values() if cls.topic == topic]


def _producer_text(topic: str) -> str:
    producers = [s for s, t in topics.PRODUCES.items() if t == topic]
    producers += [s.replace("_", " ") for s, t in topics.EXTERNAL_PRODUCES.items() if t == topic]
    return ", ".join(producers)


def asyncapi_document() -> dict[str, Any]:
    """The whole AsyncAPI 3.0.0 document, deterministic for a given code base."""
    channels: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    for topic in topics.EVENT_TOPICS:
        consumers = [s for s, consumed in topics.CONSUMES.items() if topic in consumed]
        channel_messages = {}
        for cls in _events_on(topic):
            messages[message_id(cls)] = _message(cls)
            channel_messages[message_id(cls)] = {"$ref": f"#/components/messages/{message_id(cls)}"}
        channels[channel_id(topic)] = {
            "address": topic,
            "title": topic,
            "description": f"Published by {_producer_text(topic)}; consumed by {', '.join(consumers) or 'nobody yet'}.",
            "servers": [{"$ref": "#/servers/kafka"}],
            "messages": channel_messages,
            "bindings": {
                "kafka": {"topic": topic, "partitions": topics.PARTITIONS[topic], "bindingVersion": KAFKA_BINDING}
            },
        }
    messages["DeadLetter"] = {
        "name": "DeadLetter",
        "title": "Dead letter",
        "summary": "A record that could never be processed.",
        "contentType": "application/json",
        "payload": {"$ref": "#/components/schemas/DeadLetter"},
    }
    for topic in topics.DLQ_TOPICS:
        source = topic.removesuffix(".dlq")
        channels[channel_id(topic)] = {
            "address": topic,
            "title": topic,
            "description": f"Records from {source} that a consumer could never process.",
            "servers": [{"$ref": "#/servers/kafka"}],
            "messages": {"DeadLetter": {"$ref": "#/components/messages/DeadLetter"}},
            "bindings": {
                "kafka": {"topic": topic, "partitions": topics.PARTITIONS[topic], "bindingVersion": KAFKA_BINDING}
            },
        }

    operations: dict[str, Any] = {}

    def channel_messages_of(topic: str) -> list[dict[str, str]]:
        cid = channel_id(topic)
        return [{"$ref": f"#/channels/{cid}/messages/{mid}"} for mid in channels[cid]["messages"]]

    senders = {**topics.PRODUCES, **topics.EXTERNAL_PRODUCES}
    for sender, topic in senders.items():
        cid = channel_id(topic)
        operations[f"{_camel(sender)}Send{cid[0].upper()}{cid[1:]}"] = {
            "action": "send",
            "title": f"{sender.replace('_', ' ')} publishes on {topic}",
            "channel": {"$ref": f"#/channels/{cid}"},
            "messages": channel_messages_of(topic),
        }
    for service, consumed in topics.CONSUMES.items():
        for topic in consumed:
            cid = channel_id(topic)
            group = {"type": "string", "enum": [service]}
            operations[f"{_camel(service)}Receive{cid[0].upper()}{cid[1:]}"] = {
                "action": "receive",
                "title": f"{service} consumes {topic}",
                "channel": {"$ref": f"#/channels/{cid}"},
                "messages": channel_messages_of(topic),
                "bindings": {"kafka": {"groupId": group, "bindingVersion": KAFKA_BINDING}},
            }
            dlq_id = channel_id(topics.dlq(topic))
            operations[f"{_camel(service)}Send{dlq_id[0].upper()}{dlq_id[1:]}"] = {
                "action": "send",
                "title": f"{service} dead-letters what it can never process from {topic}",
                "channel": {"$ref": f"#/channels/{dlq_id}"},
                "messages": channel_messages_of(topics.dlq(topic)),
            }

    schemas = _component_schemas()
    schemas["DeadLetter"] = DEAD_LETTER_SCHEMA
    return {
        "asyncapi": "3.0.0",
        "info": {"title": "Beilei events", "version": DOC_VERSION, "description": DESCRIPTION},
        "defaultContentType": "application/json",
        "servers": {
            "kafka": {
                "host": "kafka:9092",
                "protocol": "kafka",
                "description": "Placeholder: the bootstrap address is configured per deployment.",
            }
        },
        "channels": channels,
        "operations": operations,
        "components": {"schemas": schemas, "messages": messages},
    }


# The name the services' /asyncapi.json route imports.
build_document = asyncapi_document
