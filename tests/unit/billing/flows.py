"""Steps shared by billing's database-backed tests: enroll a school's students, approve its fee
schedule, record a month of attendance, take payments and settle, all through billing's handlers."""
from __future__ import annotations

from datetime import UTC, date, datetime
from types import SimpleNamespace

from fastapi import FastAPI

from services.billing import api
from services.billing.domain import FeeItem
from services.billing.handlers import money as m
from services.billing.handlers import schedules as s
from services.billing.handlers.common import Actor
from services.billing.handlers.settlement import SettlementSummary, settle_school_month
from services.billing.settings import Context, Settings
from shared.messaging.consumer import BatchConsumer
from tests.tokens import verifier
from tests.unit.billing.builders import School
from tests.unit.billing.conftest import record

PRINCIPAL = Actor("stf-principal", "school_staff")
OFFICER = Actor("off-1", "district_officer")
NOW = datetime(2025, 10, 1, 1, 0, tzinfo=UTC)


async def enroll(consumer: BatchConsumer, school: School, students: dict[int, tuple[bool, bool]]) -> None:
    """students: n -> (hardship, extended care granted)."""
    records = [record(school.programme())]
    for n, (hardship, care) in students.items():
        records += [record(school.approved(n, hardship=hardship, extended_care=care)),
                    record(school.filed(n, hardship=hardship, extended_care=care))]
    await consumer.process(records)


async def approve_schedule(uow_factory, school: School, *, session_fen: int | None = None,
                           care_fen: int | None = None, effective_from: date = date(2025, 9, 1)) -> str:
    items = [FeeItem("session", session_fen if session_fen is not None else school.fee_fen, "per_session")]
    items.append(FeeItem("extended_care", care_fen if care_fen is not None else school.care_fen, "per_session"))
    cmd = s.SubmitFeeSchedule(school_id=school.school_id, programme_id=school.programme_id, items=tuple(items),
                              parents_committee_agreed_on=date(2025, 8, 15), parents_committee_ref="pc-minutes-1",
                              effective_from=effective_from)
    async with uow_factory() as uow:
        row, _ = await s.submit_fee_schedule(uow, cmd, PRINCIPAL, NOW, 3000)
        await uow.commit()
    async with uow_factory() as uow:
        await s.approve_fee_schedule(uow, row.fee_schedule_id, OFFICER, NOW, 3000)
        await uow.commit()
    return row.fee_schedule_id


async def district_approves_the_plans(uow, school: School) -> None:
    """R10: the district approves every plan the school proposed, so payouts may follow them (R20)."""
    for plan in await uow.plan_rows(school_id=school.school_id, status="proposed"):
        await s.review_distribution_plan(uow, plan.plan_id, "approved", None, OFFICER, NOW)


async def attend(consumer: BatchConsumer, school: School, n: int, days: list[date], *,
                 care_days: list[date] = ()) -> None:
    records = []
    for day in days:
        records.append(record(school.check_in(n, day)))
        records.append(record(school.check_out(n, day, extended_care=day in care_days)))
        if day in care_days:
            records.append(record(school.extended_care(n, day)))
    await consumer.process(records)


async def pay(uow_factory, school: School, n: int, amount_fen: int, ref: str, *,
              prepaid_period: str | None = None, charge_ids: tuple[str, ...] = ()) -> m.PaymentResult:
    cmd = m.RecordPayment(external_ref=ref, method="wechat_pay", school_id=school.school_id,
                          student_id=school.student(n), amount_fen=amount_fen,
                          received_at=datetime(2025, 9, 1, 4, 0, tzinfo=UTC),
                          deposited_to_account=f"acct-{school.school_id}", programme_id=school.programme_id,
                          prepaid_period=prepaid_period, charge_ids=charge_ids)
    async with uow_factory() as uow:
        (result,) = await m.record_payments(uow, [cmd], Actor("gateway", "school_system"), NOW)
        await uow.commit()
    return result


async def settle(uow_factory, school: School, period: str = "2025-09", chunk_size: int = 3,
                 now: datetime = NOW) -> SettlementSummary:
    return await settle_school_month(uow_factory, school_id=school.school_id, period=period, actor=PRINCIPAL,
                                     now=now, chunk_size=chunk_size)


def billing_app(uow_factory, context: Context | None = None) -> FastAPI:
    """Billing's routes and error handlers over the test database, as the service mounts them."""
    app = FastAPI()
    app.include_router(api.router)
    for error, reply in api.ERROR_HANDLERS.items():
        app.add_exception_handler(error, reply)
    app.state.runtime = SimpleNamespace(uow_factory=uow_factory, authority=verifier(),
                                        settings=Settings(), context=context)
    return app
