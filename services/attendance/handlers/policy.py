"""What attendance's use cases take from outside the rules: the clock, the grace period and ingest limits."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from services.attendance.domain import Limits
from shared.time import utc_now


@dataclass(frozen=True)
class Policy:
    """Injected into handlers so tests control time (the sweep, "too old", "in the future")."""

    clock: Callable[[], datetime] = utc_now
    limits: Limits = field(default_factory=Limits)
    # R12: how long after the session start a student may still arrive before an absence is raised.
    grace: timedelta = timedelta(minutes=10)
    # Students handled per sweep transaction, so a city-wide session start is many short transactions.
    sweep_batch: int = 2000
    # How far a school system's clock may be from ours when a record on attendance.ingest is judged by its Kafka
    # timestamp: its token must have been valid then, give or take this (R15: a backlog is not thrown away).
    record_token_skew: timedelta = timedelta(minutes=5)
    # Told how many records of a batch were answered "conflict" (a metric; nothing by default).
    count_conflicts: Callable[[int], object] = lambda n: None
