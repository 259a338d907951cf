"""Staff shift handover (交接班, R11, R28): the school system records that a staff member going off shift
handed the children still on site to a colleague; recorded once per handover id and announced as
StaffShiftHandedOver."""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import date, datetime

from services.attendance.db import AttendanceUoW
from services.attendance.domain import Rejection
from services.attendance.domain.handover import judge_handover
from shared.contracts.attendance import StaffShiftHandedOver
from shared.ids import StableIds
from shared.time import local_day

_EVENT_IDS = StableIds("0b5e6c1d-44f2-4d0c-9a1e-6f5a3c2b1d08")


class HandoverConflict(Exception):
    """The handover id was recorded before with another content (a school system bug, never a retry)."""


@dataclass(frozen=True)
class HandoverRecord:
    handover_id: str
    school_id: str
    programme_id: str
    session_date: date
    from_staff_id: str
    to_staff_id: str
    handed_over_at: datetime
    student_ids: tuple[str, ...]
    refused: tuple[dict, ...]


def _record(row) -> HandoverRecord:
    return HandoverRecord(row.handover_id, row.school_id, row.programme_id, row.session_date, row.from_staff_id,
                          row.to_staff_id, row.handed_over_at, tuple(row.student_ids), tuple(json.loads(row.refused)))


async def record_handover(uow: AttendanceUoW, *, school_id: str, handover_id: str, programme_id: str,
                          from_staff_id: str, to_staff_id: str, at: datetime, student_ids: list[str] | None,
                          recorded_by: str, recorded_by_role: str) -> tuple[HandoverRecord, bool] | Rejection:
    """Judge and record a handover; (the record, whether it is new), or why it is refused as a whole. The same
    handover id with the same content answers the record again; with other content raises HandoverConflict.
    The caller commits."""
    request = json.dumps([programme_id, from_staff_id, to_staff_id, at.isoformat(), student_ids])
    request_hash = hashlib.sha256(request.encode()).hexdigest()
    await uow.lock_handover(school_id, handover_id)
    found = await uow.handover(school_id, handover_id)
    if found is not None:
        if found.request_hash != request_hash:
            raise HandoverConflict(f"handover {handover_id} was recorded before with other content")
        return _record(found), False
    day = local_day(at)
    schedule = (await uow.schedules([programme_id])).get(programme_id)
    judged = judge_handover(schedule, school_id, from_staff_id, to_staff_id,
                            await uow.on_site(programme_id, day) if schedule else (), student_ids)
    if isinstance(judged, Rejection):
        return judged
    refused = tuple({"student_id": s, "reason_code": code, "reason": why} for s, code, why in judged.refused)
    record = HandoverRecord(handover_id, school_id, programme_id, day, from_staff_id, to_staff_id, at, judged.handed,
                            refused)
    await uow.save_handover({"school_id": school_id, "handover_id": handover_id, "programme_id": programme_id,
                             "session_date": day, "from_staff_id": from_staff_id, "to_staff_id": to_staff_id,
                             "handed_over_at": at, "student_ids": list(judged.handed), "refused": json.dumps(refused),
                             "request_hash": request_hash, "recorded_by": recorded_by})
    if judged.handed:
        uow.publish(StaffShiftHandedOver(
            handover_id=handover_id, school_id=school_id, programme_id=programme_id, session_date=day,
            from_staff_id=from_staff_id, to_staff_id=to_staff_id, handed_over_at=at, student_ids=list(judged.handed),
            recorded_by=recorded_by, recorded_by_role=recorded_by_role,  # type: ignore[arg-type]
        ), event_id=_EVENT_IDS(f"{school_id}/{handover_id}"), correlation_id=handover_id)
    return record, True


async def handovers_on(uow: AttendanceUoW, school_id: str, day: date) -> list[HandoverRecord]:
    return [_record(r) for r in await uow.handovers_on(school_id, day)]
