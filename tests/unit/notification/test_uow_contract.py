"""The same consumed events on the fake unit of work and on PostgreSQL: the repository methods
notification's handlers rely on must answer alike (the messages recorded, held, waiting and released, the
refusal receipts), or the fast handler tests prove nothing (R11-R13, R22, R23, R25, R28)."""
from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import text

from services.notification.db import ContactRow, NotificationUoW, PreferenceRow
from services.notification.handlers import Delivery, handler_table
from shared.contracts.attendance import StudentAbsent, StudentCheckedOut, UnauthorisedPickupRefused
from shared.contracts.audit import AnomalyDetected
from shared.contracts.enrollment import ApplicationSubmitted, EnrollmentFiled, ProgrammePublished
from shared.contracts.envelope import new_envelope
from shared.contracts.schema import example_event
from tests.unit.notification.conftest import consume
from tests.unit.notification.fakes import FakeNotificationStore
from tests.unit.notification.test_sender import SEALER, checkout, guardian
from tests.unit.notification.test_staff_alerts import decided, staff

# 22:30 in Shanghai: inside the default quiet hours (21:30-07:00), so news waits and safety does not (R22).
# Each run of events is a minute later than the one before.
NOW = datetime(2025, 9, 12, 14, 30, tzinfo=UTC)


def batches(p: str) -> list[list]:
    """A school's evening as runs of consumed events; ids carry `p`, so the shared schema's other rows
    never meet these."""
    school, district, programme = f"sch-{p}", f"dst-{p}", f"prg-{p}"
    s1, s2 = f"stu-{p}-1", f"stu-{p}-2"
    g1, g2, g3 = (f"gdn-{p}-{i}" for i in (1, 2, 3))
    teacher, gone = f"stf-{p}-teacher", f"stf-{p}-gone"

    def about_s1(cls, **fields):
        event = example_event(cls).model_copy(update={"student_id": s1, "school_id": school, "programme_id": programme,
                                                      **fields})
        return new_envelope(event, producer="attendance")

    filed = example_event(EnrollmentFiled).model_copy(update={
        "student_id": s1, "guardian_id": g1, "school_id": school, "district_id": district, "student_name": "李小明"})
    applied = example_event(ApplicationSubmitted).model_copy(update={
        "student_id": s2, "guardian_id": g3, "school_id": school, "student_name": "王小红"})
    published = example_event(ProgrammePublished).model_copy(update={
        "programme_id": programme, "school_id": school, "name": "趣味编程", "school_name": "实验小学", "disclosure_url": None})
    anomaly = example_event(AnomalyDetected).model_copy(update={"school_id": school, "district_id": district,
                                                                "severity": "critical"})
    evening = [about_s1(StudentCheckedOut, handed_over_by=teacher),  # the family hears the teacher's name (issue 16)
               about_s1(StudentAbsent, class_teacher_id=teacher), about_s1(UnauthorisedPickupRefused)]
    return [
        [guardian(g1, [s1, s2], school=school), guardian(g2, [s1], consent=False, school=school),
         # The class teacher works at another school: reached because the event names them.
         staff(teacher, f"sch-{p}-b", ["class_teacher"], name="陈静"),
         staff(f"stf-{p}-safe", school, ["safety_contact"]), staff(gone, school, ["safety_contact"]),
         new_envelope(filed, producer="enrollment"), new_envelope(applied, producer="enrollment"),
         new_envelope(published, producer="enrollment")],
        [guardian(g3, [s2], school=school, phone="13900000013"),
         guardian(g1, [s1], school=school),  # no longer s2's guardian; their own messages are not released again
         decided(gone, school, "suspended", NOW - timedelta(hours=1))],
        [decided(gone, school, "admitted", NOW - timedelta(hours=2))],  # older, arriving late
        evening,
        evening,  # redelivered
        [new_envelope(anomaly, producer="audit"), checkout(s2, school=school)],
    ]


async def run_cases(factory, p: str, evening: list[list]) -> dict:
    clock = [NOW]
    handlers = handler_table(Delivery(clock=lambda: clock[0], portal_url="https://khfw.example.cn"))
    async with factory() as uow:
        for auditor, district in ((f"aud-{p}", f"dst-{p}"), (f"aud-{p}-far", f"dst-{p}-far")):
            await uow.upsert_contact(ContactRow(recipient_id=auditor, role="auditor", district_id=district,
                                                phone_sealed=SEALER.seal("13900000009"), phone_masked="139****0009",
                                                consent=True))
        await uow.save_preferences(PreferenceRow(recipient_id=f"gdn-{p}-1", channels="sms_only"))  # no quiet hours
        await uow.commit()
    out: dict = {}
    for i, batch in enumerate(evening):
        clock[0] = NOW + timedelta(minutes=i)
        await consume(factory, handlers, batch)
        out[i] = await _messages(factory, p)
    async with factory() as uow:
        await uow.save_preferences(PreferenceRow(recipient_id=f"gdn-{p}-3", channels="push_only"))  # left without commit
    async with factory() as uow:
        out["preferences"] = [(r.channels, r.quiet_start, r.locale) if r else None
                              for r in (await uow.preferences(f"gdn-{p}-1"), await uow.preferences(f"gdn-{p}-3"))]
    return out


async def _messages(factory, p: str) -> list[tuple]:
    async with factory() as uow:
        rows = await uow.recent_messages(1000)
    return sorted((m.recipient_id.replace(p, "*"), m.template, m.status, m.kind, m.recipient_role, m.urgent, m.channel,
                   tuple(m.plan or ()), m.locale, m.not_before, m.next_attempt_at, m.to_masked, m.body,
                   json.dumps(m.params, ensure_ascii=False, sort_keys=True), m.out_id, m.cause_event_type)
                  for m in rows if p in m.recipient_id)


async def _receipts(db, p: str) -> list[tuple]:
    async with db.engine.connect() as conn:
        rows = (await conn.execute(text("select value from outbox order by id"))).all()
    payloads = [json.loads(bytes(r[0])) for r in rows]
    return [(b["type"], b["payload"]["recipient_id"], b["payload"]["error_code"]) for b in payloads
            if p in b["payload"].get("recipient_id", "")]


async def test_the_fake_and_postgresql_units_of_work_answer_alike(db) -> None:
    store, p = FakeNotificationStore(), uuid.uuid4().hex[:8]
    evening = batches(p)

    fake = await run_cases(store.uow, p, evening)
    real = await run_cases(lambda: NotificationUoW(db, producer="notification"), p, evening)

    assert fake == real
    first = {m[0]: m for m in fake[0]}
    assert first["gdn-*-3"][2] == "awaiting_contact"  # its guardian is not known yet (R22)
    assert {m[1] for m in fake[0] if m[0] == "gdn-*-1"} == {"enrollment_filed", "programme_disclosure"}
    released = {m[0]: m for m in fake[1]}["gdn-*-3"]
    assert released[2] == "pending" and released[9] is not None  # held for quiet hours, then sent (R22)
    evening = sorted(set(fake[3]) - set(fake[2]))
    told = {(m[0], m[1]) for m in evening}
    assert told == {("gdn-*-1", "pickup"), ("gdn-*-2", "pickup"), ("gdn-*-1", "absence"), ("gdn-*-2", "absence"),
                    ("gdn-*-1", "unauthorised_pickup"), ("gdn-*-2", "unauthorised_pickup"),
                    ("stf-*-teacher", "absence_staff"), ("stf-*-safe", "unauthorised_pickup_staff")}  # not the suspended
    assert {m[2] for m in evening if m[0] == "gdn-*-2"} == {"suppressed_no_consent"}
    assert any("陈老师" in m[12] and "李小明" in m[12] for m in evening if m[1] == "pickup" and m[12])
    assert all("趣味编程" in m[13] for m in evening if m[0].startswith("stf-"))
    assert fake[4] == fake[3]  # a redelivered evening records nothing more
    last = {(m[0], m[1]) for m in set(fake[5]) - set(fake[4])}
    assert last == {("aud-*", "anomaly_alert"), ("gdn-*-3", "pickup")}  # not the far district; g1 no longer s2's
    assert fake["preferences"] == [("sms_only", None, None), None]
    real_receipts = await _receipts(db, p)
    fake_receipts = [(e.type_name, e.recipient_id, e.error_code) for e in store.state.events]
    assert fake_receipts == real_receipts and {r[2] for r in fake_receipts} == {"no_consent"}
