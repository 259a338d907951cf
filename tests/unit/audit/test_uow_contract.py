"""The same facts written and read on the fake unit of work and on PostgreSQL (R9, R17, R19, R20, R25):
the checks read these facts, so the fake must answer as the database does, or fast check tests prove nothing."""
from __future__ import annotations

import uuid
from datetime import UTC, date, datetime

from services.audit.domain import leaf_bytes, opened_document
from services.audit.domain.coercion import StaffEntered
from services.audit.domain.rules import FeeStandard, LabourFeePlan, StudentCash, conflicting_delivery
from services.audit.handlers.events import compare_redelivery, record_fee_record
from services.audit.ledger.merkle import leaf_hash
from shared.contracts.billing import FeeCharged
from shared.contracts.envelope import Envelope, new_envelope
from shared.contracts.schema import example_payload
from tests.unit.audit.fakes import FakeAuditStore
from tests.unit.audit.harness import TestLedger

D1, D2, D3 = date(2026, 3, 2), date(2026, 3, 3), date(2026, 4, 1)
STOPPED = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)


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


async def run_ledger_cases(factory, p: str) -> dict:
    """The consumer's fee-record handlers on a unit of work: entries numbered gap-free at commit, an
    uncommitted batch gone, an event id answered with what it recorded, a redelivery with other figures
    kept as a conflict and reported once (R24)."""
    school = f"sch-{p}"
    first, second, dropped = (_fee(school, f"stu-{p}-{i}", 1500 * (i + 1)) for i in range(3))
    async with factory() as uow:
        before = await uow.ledger_size()
    async with factory() as uow:
        for envelope, event in (first, second):
            await record_fee_record(uow, envelope, event)
        assert uow.staged(first[0].event_id) == first[0].model_dump(mode="json")
        await uow.commit()
    async with factory() as uow:
        await record_fee_record(uow, *dropped)  # left without commit
    async with factory() as uow:
        size = await uow.ledger_size()
        recorded = {}
        for name, (envelope, _) in (("first", first), ("second", second), ("dropped", dropped)):
            row = await uow.recorded(envelope.event_id)
            recorded[name] = None if row is None else (
                row[0] - before, row[1], row[2], opened_document(row[3], row[5]) == envelope.model_dump(mode="json"),
                row[4] == leaf_hash(row[3]))
        changed = first[0].model_copy(update={"payload": {**first[0].payload, "amount_fen": 1}})
        await compare_redelivery(uow, changed, first[1], clock=lambda: STOPPED)
        await compare_redelivery(uow, first[0], first[1], clock=lambda: STOPPED)  # the same bytes: nothing
        await uow.commit()
    async with factory() as uow:
        await compare_redelivery(uow, changed, first[1], clock=lambda: STOPPED)  # reported once only
        await uow.commit()
    async with factory() as uow:
        conflict = conflicting_delivery(first[0].event_id, recorded["first"][0] + before, school, "FeeCharged",
                                        (await uow.recorded(first[0].event_id))[4], leaf_hash(leaf_bytes(changed)))
        again = await uow.insert_finding(conflict, district_id=None, ledger_tree_size=None, detected_at=STOPPED)
    return {"grew": size - before, "recorded": recorded, "reported_again": again}


def _fee(school: str, student: str, amount: int) -> tuple[Envelope, FeeCharged]:
    event = FeeCharged.model_validate({**example_payload(FeeCharged), "school_id": school, "student_id": student,
                                       "charge_id": f"chg-{student}", "session_dates": [], "amount_fen": amount,
                                       "postings": [{"debit": "parent_receivables", "credit": "fee_income",
                                                     "amount_fen": amount}]})
    return new_envelope(event, producer="billing"), event


async def test_the_fake_and_postgresql_units_of_work_append_and_report_alike(database_url: str) -> None:
    p = uuid.uuid4().hex[:8]
    own = await TestLedger.create(database_url, "contract")  # its charges of unenrolled children stay out of
    try:                                                      # the session ledger the checks' tests count
        fake = await run_ledger_cases(FakeAuditStore().uow, p)
        real = await run_ledger_cases(own.uow, p)
    finally:
        await own.close()

    assert fake == real
    assert fake["grew"] == 2
    assert fake["recorded"] == {"first": (0, "FeeCharged", f"sch-{p}", True, True),
                                "second": (1, "FeeCharged", f"sch-{p}", True, True), "dropped": None}
    assert fake["reported_again"] is False
