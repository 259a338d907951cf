"""Every event the contracts say a family must hear about (shared/contracts/audience.py) becomes a message to
the guardian when notification consumes it (issue 16, R22, R23): derived from the contracts, not from
notification's own table of handlers, so an event notification forgot fails here."""
from __future__ import annotations

import uuid

from sqlalchemy import text

from shared.contracts.audience import FAMILY_FACING
from shared.contracts.registry import EVENT_TYPES
from shared.contracts.schema import example_envelope
from tests.unit.notification.test_sender import Rig, guardian


async def test_every_family_facing_event_of_the_contracts_reaches_the_guardian(db) -> None:
    rig = Rig(db)
    # The contract examples' guardian, student and school.
    await rig.consume(guardian("gdn-000456", ["stu-000123"], school="sch-0042"))
    unheard = []
    for (name, version), cls in sorted(EVENT_TYPES.items()):
        if name not in FAMILY_FACING:
            continue
        envelope = example_envelope(cls).model_copy(update={"event_id": uuid.uuid4()})
        try:
            await rig.consume(envelope)
        except KeyError:  # notification takes no such event at all
            unheard.append(f"{name} v{version}")
            continue
        async with db.engine.connect() as conn:
            told = (await conn.execute(text("select count(*) from messages where event_id = :e and recipient_id = :g"
                                            " and body is not null"),
                                       {"e": envelope.event_id, "g": "gdn-000456"})).scalar_one()
        if told != 1:
            unheard.append(f"{name} v{version}")
    assert unheard == []
