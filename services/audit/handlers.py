"""Audit's use cases: one handler per consumed event, plus the table of which takes which."""
from __future__ import annotations

from shared.contracts.envelope import Envelope, Event
from services.audit.db import AuditUoW, LedgerEntryRow
from services.audit.domain import MONEY_EVENTS, leaf_bytes
from services.audit.ledger.merkle import leaf_hash


async def record_money_event(uow: AuditUoW, envelope: Envelope, event: Event) -> None:
    """Exactly one ledger entry per money event: the inbox drops redeliveries of the same event id."""
    body = leaf_bytes(envelope)
    seq = await uow.reserve_sequence(1)
    uow.append(LedgerEntryRow(seq=seq, event_id=envelope.event_id, event_type=envelope.type,
                              school_id=getattr(event, "school_id", None), body=body, leaf_hash=leaf_hash(body)))


HANDLERS = {name: record_money_event for name in MONEY_EVENTS}
