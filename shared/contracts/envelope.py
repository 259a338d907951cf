"""The event envelope and the base of every event payload; no broker or database code here."""
from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, ClassVar

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field


class Event(BaseModel):
    """Base of every event payload. Subclasses set the class variables below.

    Readers are tolerant: unknown fields are ignored, so additive optional fields keep the version.
    """

    model_config = ConfigDict(extra="ignore", frozen=True)

    type_name: ClassVar[str]
    version: ClassVar[int] = 1
    topic: ClassVar[str]
    # Name of the payload field whose value is the Kafka partition key. Events about one student
    # are keyed by student_id so that they stay in order.
    key_field: ClassVar[str] = "student_id"

    def partition_key(self) -> str:
        return str(getattr(self, self.key_field))


class Envelope(BaseModel):
    """What travels on a topic: metadata that every event carries, plus the typed payload."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    event_id: uuid.UUID = Field(description="Unique forever; consumers deduplicate on it.")
    type: str = Field(description="Stable event type name, e.g. StudentCheckedOut.")
    version: int = Field(ge=1, description="Schema version of the payload.")
    occurred_at: AwareDatetime = Field(description="When it happened, UTC.")
    producer: str = Field(description="Service that published the event.")
    correlation_id: str = Field(description="Ties together everything caused by one request.")
    causation_id: uuid.UUID | None = Field(
        default=None, description="event_id of the event that caused this one, if any."
    )
    key: str = Field(description="Partition key (usually the student id).")
    payload: dict[str, Any] = Field(description="The event body; its schema depends on type and version.")


def new_envelope(
    event: Event,
    *,
    producer: str,
    correlation_id: str | None = None,
    causation_id: uuid.UUID | None = None,
    occurred_at: datetime | None = None,
    event_id: uuid.UUID | None = None,
) -> Envelope:
    """Wrap a payload for publishing. event_id may be given to make a retried command idempotent."""
    eid = event_id or uuid.uuid4()
    return Envelope(
        event_id=eid,
        type=event.type_name,
        version=event.version,
        occurred_at=occurred_at or datetime.now(UTC),
        producer=producer,
        correlation_id=correlation_id or str(eid),
        causation_id=causation_id,
        key=event.partition_key(),
        payload=event.model_dump(mode="json"),
    )
