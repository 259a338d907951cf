"""Attendance's settings: the common ones plus what only attendance reads, and the typed context the
composition root builds from them for the routes."""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from pydantic import Field

from shared.settings import CommonSettings

if TYPE_CHECKING:  # the handlers read the database module, which these settings must not import
    from services.attendance.handlers import GroupCommit, Policy


class Settings(CommonSettings):
    http_port: int = 8002
    absence_grace_minutes: int = Field(10, ge=0, description="R12: minutes after the session start before an absence is raised.")
    sweep_interval_seconds: float = Field(15.0, gt=0, description="How often the absence / extended-care sweep runs.")
    sweep_batch: int = Field(2000, ge=1, description="Students handled per sweep transaction.")
    ingest_max_records: int = Field(10_000, ge=1, description="Most records one HTTP batch may carry (R15).")
    ingest_groups_in_flight: int = Field(2, ge=1, description="Group-committed ingest transactions running at once: "
                                         "concurrent HTTP batches are judged and committed together (R15).")
    ingest_max_body_bytes: int = Field(8 * 1024 * 1024, ge=1024, description="Largest HTTP batch body accepted, in "
                                       "bytes (413 beyond, before parsing).")
    ingest_linger_ms: float = Field(20.0, ge=0, le=1000, description="How long a group of HTTP batches waits for more "
                                    "after its first, so one transaction serves several one-record POSTs: at the evening's "
                                    "310 POSTs/s, 20 ms took a third off attendance's CPU per check-out against 5 ms (PickupSurge).")
    ingest_max_age_days: int = Field(7, ge=0, description="Oldest session day a late record may still be about (R15).")
    ingest_future_tolerance_seconds: int = Field(300, ge=0, description="Clock skew allowed for records stamped ahead of us.")


@dataclass(frozen=True)
class Context:
    """What attendance's routes use besides a unit of work (Runtime.context)."""

    policy: Policy  # the clock, the ingest limits and the absence grace (R12, R15)
    group_commit: GroupCommit  # school systems' batches judged and committed together (R15)
