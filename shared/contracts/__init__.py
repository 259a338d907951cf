"""Event contracts shared by every service: envelope, events, topics, codec; plain pydantic, no SQL or broker code."""
from shared.contracts import attendance, audit, billing, enrollment, ingest, notification, topics
from shared.contracts.envelope import Envelope, Event, new_envelope
from shared.contracts.registry import EVENT_TYPES, ContractError, decode, encode, event_type

__all__ = [
    "EVENT_TYPES",
    "ContractError",
    "Envelope",
    "Event",
    "attendance",
    "audit",
    "billing",
    "decode",
    "encode",
    "enrollment",
    "event_type",
    "ingest",
    "new_envelope",
    "notification",
    "topics",
]
