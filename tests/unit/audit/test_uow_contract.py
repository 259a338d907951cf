"""The same facts written and read on the fake unit of work and on PostgreSQL (R9, R17, R19, R20, R25):
the checks read these facts, so the fake must answer as the database does, or fast check tests prove nothing."""
from __future__ import annotations

import uuid
from datetime import UTC, date, datetime

from services.audit.domain.coercion import StaffEntered
from services.audit.domain.rules import FeeStandard, LabourFeePlan, StudentCash
from tests.unit.audit.fakes import FakeAuditStore
from tests.unit.audit.harness import TestLedger

D1, D2, D3 = date(2026, 3, 2), date(2026, 3, 3), date(2026, 4, 1)


async def run_cases(factory, p: str) -> dict:
    school, other, prog = f"sch-{p}", f"sch-{p}-2", f"prg-{p}"
    kept, left, never = f"stu-{p}-1", f"stu-{p}-2", f"stu-{p}-3"
    entered = StaffEntered(f"app-{p}", school, prog, "stf-1", datetime(2026, 3, 2, 8, tzinfo=UTC), uuid.UUID(int=7))
    async with factory() as uow:
        await uow.upsert_programme(prog, school, "dst-1", 1500, 800)
        await uow.upsert_programme(prog, school, "dst-1", 1600, 800)  # the later disclosure stands
        await uow.upsert_fee_standard(FeeStandard(f"fs-{p}", school, prog, {"session": (1500, "session")}), D1)
        await uow.add_distribution_plan(LabourFeePlan(f"pl-{p}", school, 5000, 3000), "批复", D1, D1, "acct")
        await uow.add_distribution_plan(LabourFeePlan(f"pl-{p}", school, 9000, 9000), "伪", D1, D1, "acct")  # first stands
        await uow.add_staff_entered([entered, entered])
        await uow.file_enrollments({(kept, prog): (school, False), (left, prog): (school, True)})
        await uow.file_enrollments({(kept, prog): (school, True)})
        await uow.withdraw_enrollments({(left, prog): (school, D2), (never, prog): (school, D1)})
        await uow.add_school_account(school, "acct-1")
        await uow.add_school_account(school, "acct-1")
        await uow.add_school_account(school, "acct-2")
        for waiver, charge, reason in (("w1", "c1", "hardship"), ("w2", "c1", "hardship"), ("w3", "c1", "other"),
                                       ("w1", "c1", "hardship")):
            await uow.add_waiver(f"{waiver}-{p}", f"{charge}-{p}", reason, 700)
        for day in (D1, D2, D3):
            uow.note_session_held(school, prog, day)
            uow.note_staff_session(school, "stf-1", day)
        uow.note_staff_session(school, "stf-1", D1)
        uow.note_district(school, "dst-1")
        uow.note_district(other, None)
        await uow.save_student_cash({(school, kept): StudentCash(3000, 1500)})
        await uow.commit()
    async with factory() as uow:
        await uow.save_student_cash({(school, kept): StudentCash(1, 1)})  # left without commit
        uow.note_district(other, "dst-2")
        noted = await uow.districts_of([school, other])  # noted in this batch, read before the write
    async with factory() as uow:
        return {
            "noted": noted,
            "enrollments": await uow.enrollments_of([(kept, prog), (left, prog), (never, prog), ("nobody", prog)]),
            "standards": await uow.standards_of([f"fs-{p}", "fs-none"]),
            "programmes": await uow.programmes_of([prog]),
            "plans": await uow.plans_of([f"pl-{p}"]),
            "held": await uow.held_sessions_of([(school, prog)], D1, D2),
            "waived": await uow.hardship_waived_of([f"c1-{p}", "c-none"]),
            "accounts": await uow.accounts_of([school, other]),
            "districts": await uow.districts_of([school, other]),
            "of_district": await uow.schools_of_district("dst-1") == [school],
            "staff": await uow.staff_sessions_of([(school, "stf-1", "2026-03"), (school, "stf-1", "2026-04")]),
            "cash": await uow.student_cash_of([(school, kept), (school, left)]),
            "entered": await uow.staff_entered_on([(school, prog, "stf-1")], datetime(2026, 3, 1, tzinfo=UTC),
                                                  datetime(2026, 3, 3, tzinfo=UTC)),
        }


async def test_the_fake_and_postgresql_units_of_work_read_the_same_facts(ledger: TestLedger) -> None:
    p = uuid.uuid4().hex[:8]
    fake = await run_cases(FakeAuditStore().uow, p)
    real = await run_cases(ledger.uow, p)

    assert fake == real
    assert fake["noted"] == {f"sch-{p}": "dst-1", f"sch-{p}-2": "dst-2"}
    assert fake["districts"] == {f"sch-{p}": "dst-1"}
    assert fake["programmes"][f"prg-{p}"].fee_per_session_fen == 1600
    assert fake["plans"][f"pl-{p}"].per_session_fen == 5000
    assert fake["held"] == {(f"sch-{p}", f"prg-{p}"): {D1, D2}}
    assert fake["waived"] == {f"c1-{p}": 1400}
    assert fake["staff"] == {(f"sch-{p}", "stf-1", "2026-03"): 2, (f"sch-{p}", "stf-1", "2026-04"): 1}
    assert fake["cash"][(f"sch-{p}", f"stu-{p}-1")] == StudentCash(3000, 1500)
    assert {k[0]: (e.hardship, e.withdrawn_on) for k, e in fake["enrollments"].items()} == {
        f"stu-{p}-1": (True, None), f"stu-{p}-2": (True, D2), f"stu-{p}-3": (False, D1)}
    assert len(fake["entered"]) == 1
