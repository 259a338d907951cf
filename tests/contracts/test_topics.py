"""Topic names, partitions and the who-consumes-what table match ARCHITECTURE.md."""
from __future__ import annotations

from shared.contracts import topics
from shared.contracts.registry import EVENT_TYPES


def test_each_service_publishes_on_its_own_events_topic() -> None:
    assert topics.PRODUCES == {s: f"{s}.events" for s in topics.SERVICES}


def test_consumers_read_what_the_architecture_says() -> None:
    assert topics.CONSUMES == {
        "enrollment": (),
        "attendance": ("enrollment.events", "attendance.ingest"),
        "billing": ("enrollment.events", "attendance.events"),
        "notification": ("enrollment.events", "attendance.events", "billing.events", "audit.events"),
        "audit": ("billing.events", "enrollment.events", "attendance.events"),
        # The web portal (issue 18) keeps read models and publishes nothing.
        "portal": ("enrollment.events", "attendance.events", "billing.events", "notification.events", "audit.events"),
    }


def test_no_service_consumes_its_own_topic() -> None:
    for service, consumed in topics.CONSUMES.items():
        assert topics.PRODUCES.get(service) not in consumed


def test_every_consumed_topic_has_a_dead_letter_topic() -> None:
    consumed = {t for ts in topics.CONSUMES.values() for t in ts}

    assert {topics.dlq(t) for t in consumed} <= set(topics.ALL_TOPICS)
    assert topics.dlq("billing.events") == "billing.events.dlq"


def test_every_topic_has_a_partition_count_and_dlqs_have_one() -> None:
    assert set(topics.PARTITIONS) == set(topics.ALL_TOPICS)
    assert topics.PARTITIONS[topics.ATTENDANCE_EVENTS] > topics.PARTITIONS[topics.BILLING_EVENTS]
    assert all(topics.PARTITIONS[t] == 1 for t in topics.ALL_TOPICS if t.endswith(".dlq"))


def test_every_event_is_on_a_known_topic_and_every_produced_topic_carries_events() -> None:
    used = {cls.topic for cls in EVENT_TYPES.values()}

    assert used <= set(topics.EVENT_TOPICS)
    assert set(topics.PRODUCES.values()) | set(topics.EXTERNAL_PRODUCES.values()) == used
