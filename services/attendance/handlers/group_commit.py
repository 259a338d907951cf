"""Group commit of school systems' HTTP batches (R15), on the kit's group commit: concurrent requests are
judged and committed in one ingest transaction, each request answered with its own records' outcomes.
Knows no HTTP and no SQL."""
from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

from services.attendance.db import AttendanceUoW
from services.attendance.domain import Outcome
from services.attendance.handlers.ingest import Submitted
from shared.messaging import group_commit as kit
from shared.messaging.group_commit import Stopping

Process = Callable[[AttendanceUoW, Sequence[Submitted]], Awaitable[list[Outcome]]]


def record_key(item: Submitted) -> tuple[str, str] | None:
    """Two requests about one (school, record id) never share a group, so "repeated_in_batch" keeps meaning
    "twice in the same request" and the later one is answered "already_received", as if one came after the other."""
    return None if item.record is None else (item.record.school_id, item.record.record_id)


class GroupCommit(kit.GroupCommit[AttendanceUoW, Submitted, Outcome]):
    """At city scale nearly every POST carries one record (a gate posts about one a second): see the kit's
    GroupCommit for how requests are grouped, retried alone when a group fails, and drained by `close()`."""

    def __init__(self, uow_factory: Callable[[], AttendanceUoW], process: Process, *, max_records: int,
                 max_in_flight: int = 2, linger: float = 0.0) -> None:
        super().__init__(uow_factory, process, max_records=max_records, max_in_flight=max_in_flight, linger=linger,
                         key=record_key, service="attendance")


__all__ = ["GroupCommit", "Process", "Stopping", "record_key"]
