"""Staff shift handover (交接班, R11, R28): a staff member going off shift hands the children still on site
to a colleague, both admitted to run the programme. Pure rules, no I/O."""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from services.attendance.domain.ingest import Rejection
from services.attendance.domain.schedule import Schedule


@dataclass(frozen=True)
class ShiftHandover:
    """Who handed which children to whom: `handed` were on site, `refused` (student, code, reason) were not."""

    handed: tuple[str, ...]
    refused: tuple[tuple[str, str, str], ...]


def judge_handover(schedule: Schedule | None, school_id: str, from_staff_id: str, to_staff_id: str,
                   on_site: Iterable[str], named: Iterable[str] | None) -> ShiftHandover | Rejection:
    """Both staff must be admitted to run the programme (R28) and differ; the children handed are those named
    (or, when none are named, every child still on site) who are checked in and not collected; a child named
    but not on site is refused with a reason and the others are still handed over."""
    if schedule is None or schedule.school_id != school_id:
        return Rejection("unknown_programme", f"school {school_id} runs no such published programme")
    if from_staff_id == to_staff_id:
        return Rejection("same_staff", "a shift is handed to another staff member")
    for role, staff in (("handing over", from_staff_id), ("taking over", to_staff_id)):
        if not schedule.admits(staff):
            return Rejection("staff_not_admitted", f"{staff} ({role}) is not admitted to run {schedule.programme_id} "
                                                   "(R28): suspended, removed or not on its staff")
    present = set(on_site)
    wanted = list(dict.fromkeys(named)) if named is not None else sorted(present)
    handed = tuple(s for s in wanted if s in present)
    refused = tuple((s, "not_on_site", f"{s} is not checked in, or already collected, that day (R11)")
                    for s in wanted if s not in present)
    return ShiftHandover(handed, refused)
