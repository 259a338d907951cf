"""Payments on PostgreSQL: applied to the charges the payer names, then to older statements, the
rest held as credit and used by the next statement; a hardship family's money goes straight back
(R9, R17, R19)."""
from __future__ import annotations

from datetime import UTC, datetime

from tests.unit.billing.builders import School, school_days
from tests.unit.billing.conftest import payloads, published
from tests.unit.billing.flows import approve_schedule, attend, enroll, pay, settle

SEPTEMBER, OCTOBER = school_days("2025-09"), school_days("2025-10")
NOVEMBER_FIRST = datetime(2025, 11, 1, 2, 0, tzinfo=UTC)


async def test_a_payment_settles_the_charges_it_names_first_then_older_statements(consumer, uow_factory,
                                                                                   billing_db) -> None:
    school = School("sch-pay")
    await enroll(consumer, school, {1: (False, False)})
    await approve_schedule(uow_factory, school)
    await attend(consumer, school, 1, SEPTEMBER[:10])
    await settle(uow_factory, school, "2025-09")
    await attend(consumer, school, 1, OCTOBER[:4])
    await settle(uow_factory, school, "2025-10", now=NOVEMBER_FIRST)
    statements = {s["period"]: s for s in payloads(await published(billing_db, school.school_id), "FeeSettled")}
    october_charge = statements["2025-10"]["charge_ids"][0]

    named = await pay(uow_factory, school, 1, 4 * 1500 + 3000, f"wx-{school.school_id}-a", charge_ids=(october_charge,))
    unknown = await pay(uow_factory, school, 1, 100, f"wx-{school.school_id}-b", charge_ids=("chg-nonesuch",))
    rest = await pay(uow_factory, school, 1, 8 * 1500 + 500, f"wx-{school.school_id}-c")  # September: 8 sessions left

    assert (named.status, named.applied_fen, named.settles) == ("accepted", 4 * 1500 + 3000,
                                                                [statements["2025-10"]["settlement_id"],
                                                                 statements["2025-09"]["settlement_id"]])
    assert unknown.status == "rejected" and "chg-nonesuch" in unknown.reason
    assert (rest.applied_fen, rest.credit_fen) == (8 * 1500, 500)
    received = payloads(await published(billing_db, school.school_id), "PaymentReceived")
    assert [p["charge_ids"] for p in received][0] == sorted(statements["2025-10"]["charge_ids"] +
                                                             statements["2025-09"]["charge_ids"])
    assert received[1]["postings"] == [{"debit": "bank", "credit": "parent_receivables", "amount_fen": 8 * 1500},
                                       {"debit": "bank", "credit": "parent_credit", "amount_fen": 500}]


async def test_credit_from_an_over_payment_pays_the_next_statement(consumer, uow_factory, billing_db) -> None:
    school = School("sch-credit")
    await enroll(consumer, school, {1: (False, False)})
    await approve_schedule(uow_factory, school)
    await pay(uow_factory, school, 1, 5000, f"wx-{school.school_id}-over")  # nothing owed yet: held as credit
    await attend(consumer, school, 1, SEPTEMBER[:6])

    await settle(uow_factory, school)

    (statement,) = payloads(await published(billing_db, school.school_id), "FeeSettled")
    assert (statement["charged_fen"], statement["paid_fen"], statement["outstanding_fen"]) == (9000, 5000, 4000)
    assert payloads(await published(billing_db, school.school_id), "RefundIssued") == []


async def test_a_hardship_familys_payment_is_refunded_at_once(consumer, uow_factory, billing_db) -> None:
    school = School("sch-hpay")
    await enroll(consumer, school, {1: (True, False)})

    result = await pay(uow_factory, school, 1, 3000, f"wx-{school.school_id}-h")

    assert (result.status, result.applied_fen, result.credit_fen, result.refunded_fen) == ("accepted", 0, 0, 3000)
    (refund,) = payloads(await published(billing_db, school.school_id), "RefundIssued")
    assert (refund["amount_fen"], refund["reason"], refund["payment_id"]) == (3000, "hardship", result.payment_id)
