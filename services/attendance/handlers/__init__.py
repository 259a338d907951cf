"""Attendance's use cases: handlers of consumed events, school-system ingest (R15), excusals and the timer
sweep (R12, R13), group commit of HTTP batches, plus the table of which handler takes which event."""
from __future__ import annotations

from services.attendance.handlers.events import (
    CONSUMED,
    apply_consumed,
    apply_enrollment_changes,
    apply_pickup_persons,
    apply_staff_admissions,
    store_programme,
)
from services.attendance.handlers.excusals import Excused, excuse_student
from services.attendance.handlers.group_commit import GroupCommit, Stopping
from services.attendance.handlers.ingest import Submitted, event_id_for, ingest, record_from_topic
from services.attendance.handlers.policy import Policy, utc_now
from services.attendance.handlers.timers import SweepReport, sweep, timer_event_id
from shared.auth import TokenVerifier
from shared.messaging.consumer import BatchHandler


def handler_table(policy: Policy, authority: TokenVerifier | None = None) -> dict[str, BatchHandler]:
    """Which handler takes which consumed event type: all of them go to one batch handler (events.py), so
    a consumed batch is applied with a few set-based statements in the order R11, R22 and R28 need; the
    policy carries the clock and limits, `authority` verifies the tokens school systems sign their ingest
    records with (without one, every such record is refused as unauthorised)."""
    return dict.fromkeys(CONSUMED, apply_consumed(policy, authority))


__all__ = [
    "Excused", "GroupCommit", "Policy", "Stopping", "Submitted", "SweepReport", "apply_enrollment_changes",
    "apply_pickup_persons", "apply_staff_admissions", "event_id_for", "excuse_student",
    "handler_table", "ingest", "record_from_topic", "store_programme", "sweep",
    "timer_event_id", "utc_now",
]
