"""R1: signs of coerced enrollment. Only a guardian's own application enrolls a student; applications a school
enters on families' behalf are allowed (a guardian without a phone), but a run of them entered by one staff
member for one programme within minutes looks like a class enrolled wholesale, which R1 forbids. Pure rules,
no I/O."""
from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from services.audit.domain.findings import Finding
from shared.time import local_day

# A whole class entered by staff: at least this many applications by one staff member for one programme...
COERCION_THRESHOLD = 10
# ...within this long of each other.
COERCION_WINDOW = timedelta(minutes=15)


@dataclass(frozen=True)
class StaffEntered:
    """An application a school entered on a guardian's behalf (ApplicationSubmitted with on_behalf)."""

    application_id: str
    school_id: str
    programme_id: str
    submitted_by: str
    submitted_at: datetime
    event_id: uuid.UUID


def coerced_applications(entered: Sequence[StaffEntered], *, threshold: int = COERCION_THRESHOLD,
                         window: timedelta = COERCION_WINDOW) -> list[Finding]:
    """A finding for each (school, programme, staff member, school day) where `threshold` or more applications
    entered on families' behalf fall within `window` of the first of them; reported once per such day, with
    the applications of the busiest window as evidence. `entered` may hold several groups, in any order."""
    groups: dict[tuple[str, str, str, str], list[StaffEntered]] = {}
    for e in entered:
        day = local_day(e.submitted_at).isoformat()
        groups.setdefault((e.school_id, e.programme_id, e.submitted_by, day), []).append(e)
    findings = []
    for (school, programme, staff, day), rows in sorted(groups.items()):
        rows = sorted(rows, key=lambda r: (r.submitted_at, r.application_id))
        best: list[StaffEntered] = []
        start = 0
        for end, row in enumerate(rows):
            while row.submitted_at - rows[start].submitted_at > window:
                start += 1
            if end - start + 1 > len(best):
                best = rows[start:end + 1]
        if len(best) < threshold:
            continue
        minutes = (best[-1].submitted_at - best[0].submitted_at).total_seconds() / 60
        findings.append(Finding(
            check="coerced_applications", dedup_key=f"coerced_applications:{school}:{programme}:{staff}:{day}",
            school_id=school, period=day,
            detail=(f"{len(best)} applications to {programme} entered by school staff {staff} on families' behalf "
                    f"within {minutes:.0f} minutes on {day}: a class enrolled wholesale? Only a guardian's own "
                    "application may enroll a child (R1); ask the families."),
            subject_event_ids=tuple(r.event_id for r in best[:20]),
            evidence={"programme_id": programme, "entered_by": staff, "applications": len(best),
                      "first_at": best[0].submitted_at.isoformat(), "last_at": best[-1].submitted_at.isoformat(),
                      "window_minutes": int(window.total_seconds() // 60),
                      "application_ids": ",".join(r.application_id for r in best[:50])},
        ))
    return findings


def reported_coercion(report_id: str, school_id: str, programme_id: str | None, happened_on: str,
                      what_happened: str, event_id: uuid.UUID) -> Finding:
    """A guardian's report of pressure to enroll (CoercionReported) is itself a sign of coercion (R1): one
    finding per report, naming no one."""
    return Finding(
        check="coerced_applications", dedup_key=f"coerced_applications:report:{report_id}", school_id=school_id,
        period=happened_on,
        detail=(f"a guardian reported pressure to enroll on {happened_on}"
                + (f" ({programme_id})" if programme_id else "") + f": {what_happened[:300]} (R1)"),
        subject_event_ids=(event_id,),
        evidence={"report_id": report_id, "programme_id": programme_id, "happened_on": happened_on},
    )
