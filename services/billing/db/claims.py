"""Month-end claims: a PostgreSQL session advisory lock per school (the kit's claims), so billing's
replicas share a month-end between them and a replica that dies mid-school lets the next round take
that school over (the lock goes with its connection)."""
from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine

from shared.messaging.workers import Claim, advisory_claims


def month_end_claims(engine: AsyncEngine) -> Claim:
    """`claim(school_id)`: True while this process holds the school's month-end, False if another does.
    The key, `billing:month-end:<school>`, is the one earlier releases took, so a rolling upgrade shares."""
    return advisory_claims(engine, "billing:month-end")
