"""Attendance's use cases: handlers of consumed events, school-system ingest (R15), excusals and the timer
sweep (R12, R13), group commit of HTTP batches, plus the table of which handler takes which event."""
from __future__ import annotations

from services.attendance.handlers.excusals import Excused, excuse_student
from services.attendance.handlers.group_commit import GroupCommit, Stopping
from services.attendance.handlers.ingest import Submitted, event_id_for, ingest, record_from_topic, topic_ingest_handler
from services.attendance.handlers.policy import Policy, utc_now
from services.attendance.handlers.roster import add_to_roster, remove_from_roster, store_guardian, store_programme
from services.attendance.handlers.timers import SweepReport, sweep, timer_event_id
from shared.messaging.consumer import Handler


def handler_table(policy: Policy) -> dict[str, Handler]:
    """Which handler takes which consumed event type; the policy carries the clock and limits."""
    ingest_school_record = topic_ingest_handler(policy)
    return {
        "ProgrammePublished": store_programme,
        "GuardianRegistered": store_guardian,
        "EnrollmentFiled": add_to_roster,
        "EnrollmentWithdrawn": remove_from_roster,
        "SchoolCheckInRecorded": ingest_school_record,
        "SchoolCheckOutRecorded": ingest_school_record,
        "SchoolActivityRecorded": ingest_school_record,
    }


HANDLERS = handler_table(Policy())

__all__ = [
    "HANDLERS", "Excused", "GroupCommit", "Policy", "Stopping", "Submitted", "SweepReport", "add_to_roster", "event_id_for", "excuse_student",
    "handler_table", "ingest", "record_from_topic", "remove_from_roster", "store_guardian", "store_programme", "sweep",
    "timer_event_id", "utc_now",
]
