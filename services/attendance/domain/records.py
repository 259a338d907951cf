"""What a school system claims happened, once its shape is valid (R15); rules on it live in domain.ingest."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

KINDS = ("check_in", "check_out", "activity")

# Who may check a child in or hand them over: school staff, the principal, or an admitted outside
# provider (R11, R28). A guardian or a gate machine is never the staff member of a record.
STAFF_ROLES = frozenset({"school_staff", "principal", "outside_provider"})

# Within one batch, records are applied in time order; at the same instant a check-in comes before
# an activity and an activity before a check-out, so a gate that stamps both with one second works.
KIND_ORDER = {"check_in": 0, "activity": 1, "check_out": 2}


@dataclass(frozen=True)
class Record:
    """One record from a school system, about one student on one school-local day.

    `at` is when it happened (check-in, hand-over, or the activity's start), in UTC. `record_id` is the
    system's own id: the same record sent twice carries the same id (R15)."""

    record_id: str
    kind: str
    school_id: str
    student_id: str
    at: datetime
    session_date: date
    staff_id: str
    staff_role: str
    system_id: str
    programme_id: str | None = None
    # check-out only
    collected_by_id: str | None = None
    collected_by_name: str | None = None
    # activity only
    activity_id: str | None = None
    tier: str | None = None
    minutes: int | None = None
    exercise_minutes: int | None = None

    @property
    def order(self) -> tuple[datetime, int]:
        return (self.at, KIND_ORDER[self.kind])

    @property
    def claim(self) -> dict[str, object]:
        """What the record says happened, as JSON values: every field but its identity (school and record
        id) and the sending system. A resend of the record must claim the same, or it is a conflict (R15);
        the instant is compared in UTC, so "+08:00" and "Z" spellings of one moment are one claim."""
        said = {name: getattr(self, name) for name in _CLAIMED if getattr(self, name) is not None}
        said["at"] = self.at.astimezone(UTC).isoformat()
        said["session_date"] = self.session_date.isoformat()
        return said


_CLAIMED = ("kind", "student_id", "at", "session_date", "staff_id", "staff_role", "programme_id", "collected_by_id",
            "collected_by_name", "activity_id", "tier", "minutes", "exercise_minutes")


@dataclass(frozen=True)
class Limits:
    """How late and how early a record may arrive (R15: "in any order within reason")."""

    max_age: timedelta = timedelta(days=7)
    future_tolerance: timedelta = timedelta(minutes=5)
