"""Topic names, partition counts and who produces or consumes what; names only, no broker code."""
from __future__ import annotations

ENROLLMENT_EVENTS = "enrollment.events"
ATTENDANCE_EVENTS = "attendance.events"
# Raw records that trusted school systems produce directly (R15); the attendance service validates
# them and republishes what it accepts on attendance.events.
ATTENDANCE_INGEST = "attendance.ingest"
BILLING_EVENTS = "billing.events"
NOTIFICATION_EVENTS = "notification.events"
AUDIT_EVENTS = "audit.events"

SERVICES: tuple[str, ...] = ("enrollment", "attendance", "billing", "notification", "audit")
# Services that read events and publish none: the web portal keeps read models for its pages (issue 18).
READERS: tuple[str, ...] = ("portal",)
WORKLOADS: tuple[str, ...] = SERVICES + READERS


def dlq(topic: str) -> str:
    """The dead-letter topic of `topic`: where records that can never be processed go, with the reason."""
    return f"{topic}.dlq"


# Service -> the one topic it publishes on (topics are `<producer>.events`).
PRODUCES: dict[str, str] = {
    "enrollment": ENROLLMENT_EVENTS,
    "attendance": ATTENDANCE_EVENTS,
    "billing": BILLING_EVENTS,
    "notification": NOTIFICATION_EVENTS,
    "audit": AUDIT_EVENTS,
}

# Producers outside the platform (R15): each school's own student-information or gate system.
EXTERNAL_PRODUCES: dict[str, str] = {"school_systems": ATTENDANCE_INGEST}

# Service -> topics it consumes; the consumer group is the service name.
CONSUMES: dict[str, tuple[str, ...]] = {
    "enrollment": (),
    "attendance": (ENROLLMENT_EVENTS, ATTENDANCE_INGEST),
    "billing": (ENROLLMENT_EVENTS, ATTENDANCE_EVENTS),
    "notification": (ENROLLMENT_EVENTS, ATTENDANCE_EVENTS, BILLING_EVENTS, AUDIT_EVENTS),
    "audit": (BILLING_EVENTS, ENROLLMENT_EVENTS, ATTENDANCE_EVENTS),
    # The web portal's read models (issue 18): programmes, enrollments and staff names, the evening's
    # check-ins and check-outs, disclosures, statements, checkpoints and anomalies, the messages sent to
    # guardians. It publishes nothing.
    "portal": (ENROLLMENT_EVENTS, ATTENDANCE_EVENTS, BILLING_EVENTS, NOTIFICATION_EVENTS, AUDIT_EVENTS),
}

EVENT_TOPICS: tuple[str, ...] = (
    ENROLLMENT_EVENTS,
    ATTENDANCE_INGEST,
    ATTENDANCE_EVENTS,
    BILLING_EVENTS,
    NOTIFICATION_EVENTS,
    AUDIT_EVENTS,
)

CONSUMED_TOPICS: tuple[str, ...] = tuple(t for t in EVENT_TOPICS if any(t in c for c in CONSUMES.values()))

DLQ_TOPICS: tuple[str, ...] = tuple(dlq(t) for t in CONSUMED_TOPICS)

ALL_TOPICS: tuple[str, ...] = EVENT_TOPICS + DLQ_TOPICS

# Attendance carries the evening pickup peak of 557,000 students, so it gets more partitions to
# spread across consumers; a DLQ is rare and read in order, so one partition is enough.
PARTITIONS: dict[str, int] = {
    **{t: 6 for t in EVENT_TOPICS},
    ATTENDANCE_EVENTS: 12,
    ATTENDANCE_INGEST: 12,
    **{t: 1 for t in DLQ_TOPICS},
}
