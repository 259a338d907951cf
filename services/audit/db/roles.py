"""The database role audit writes with: only INSERT and SELECT on the ledger tables (R24). Local runs
connect as audit_writer on DATABASE_URL's server; deployments give LEDGER_DATABASE_URL instead."""
from __future__ import annotations

import logging

import asyncpg
from sqlalchemy.engine import make_url

from services.audit.settings import Settings
from shared.messaging.db import asyncpg_url

log = logging.getLogger(__name__)

WRITER_ROLE = "audit_writer"


def writer_url(settings: Settings) -> str:
    """The URL the service connects with for everything it does after migrating."""
    if settings.ledger_database_url:
        return settings.ledger_database_url
    url = make_url(asyncpg_url(settings.database_url)).set(username=WRITER_ROLE,
                                                           password=settings.ledger_writer_password)
    return url.render_as_string(hide_password=False)


async def prepare_writer(settings: Settings) -> None:
    """Give audit_writer (created by the migration) the configured password, as the migrating user.
    Skipped when LEDGER_DATABASE_URL names a role the operators manage themselves."""
    if settings.ledger_database_url:
        return
    password = settings.ledger_writer_password.replace("'", "''")
    conn = await asyncpg.connect(asyncpg_url(settings.database_url).replace("postgresql+asyncpg://", "postgresql://"))
    try:
        await conn.execute(f"alter role {WRITER_ROLE} with login password '{password}'")
    except asyncpg.PostgresError as exc:
        log.warning("could not set the ledger writer's password; connecting may fail",
                    extra={"error": repr(exc), "role": WRITER_ROLE})
    finally:
        await conn.close()
