"""Audit's fee-record handlers on the in-memory unit of work (no PostgreSQL; the contract test holds the
fake to the database's answers): a record the books cannot read is refused with its reason and nothing is
appended; a redelivery with other figures keeps the first entry and is reported once, with the time the
handler's clock gives (R24)."""
from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from services.audit.handlers.events import compare_redelivery, record_fee_record
from shared.contracts.audit import AnomalyDetected
from shared.contracts.billing import FeeCharged
from shared.contracts.envelope import new_envelope
from shared.contracts.schema import example_payload
from shared.messaging.consumer import Rejected
from tests.unit.audit.fakes import FakeAuditStore

AT = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)


def _fee(amount: int = 1500, postings: object = None):
    event = FeeCharged.model_validate({**example_payload(FeeCharged), "charge_id": f"chg-{uuid.uuid4().hex[:8]}",
                                       "session_dates": [], "amount_fen": amount})
    envelope = new_envelope(event, producer="billing")
    if postings is not None:
        envelope = envelope.model_copy(update={"payload": {**envelope.payload, "postings": postings}})
    return envelope, event


async def test_a_record_the_books_cannot_read_is_refused_with_its_reason_and_not_appended() -> None:
    store = FakeAuditStore()
    async with store.uow() as uow:
        with pytest.raises(Rejected, match=r"postings\[0\] must name a debit and a credit account"):
            await record_fee_record(uow, *_fee(postings=[{"amount_fen": 1500}]))
        await uow.commit()
    assert store.tables.entries == []


async def test_a_redelivery_with_other_figures_keeps_the_first_entry_and_is_reported_once() -> None:
    store = FakeAuditStore()
    envelope, event = _fee(1500)
    async with store.uow() as uow:
        await record_fee_record(uow, envelope, event)
        await uow.commit()
    changed = envelope.model_copy(update={"payload": {**envelope.payload, "amount_fen": 9900}})
    for _ in range(2):
        async with store.uow() as uow:
            await compare_redelivery(uow, changed, event, clock=lambda: AT)
            await uow.commit()

    assert len(store.tables.entries) == 1 and len(store.tables.conflicts) == 1
    (reported,) = store.tables.published
    assert isinstance(reported, AnomalyDetected) and reported.detected_at == AT
    (finding, _, _, detected_at) = next(iter(store.tables.findings.values()))
    assert detected_at == AT and finding.subject_event_ids[0] == envelope.event_id
