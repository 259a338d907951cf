"""Runs a service's alembic migrations inside its own schema; knows nothing of any service's tables."""
from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from alembic import command, context
from alembic.config import Config
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from shared.messaging.db import asyncpg_url

SERVICES = Path(__file__).resolve().parents[2] / "services"


def upgrade(service: str, url: str, schema: str) -> None:
    """Bring the service's schema to the newest revision (blocking; call from a thread in async code)."""
    cfg = Config()
    cfg.set_main_option("script_location", str(SERVICES / service / "migrations"))
    cfg.attributes["url"] = url
    cfg.attributes["schema"] = schema
    command.upgrade(cfg, "head")


def run_env() -> None:
    """Body of every service's migrations/env.py (online mode only: we always have a database)."""
    cfg = context.config
    url, schema = cfg.attributes["url"], cfg.attributes["schema"]

    def do_run(connection) -> None:
        context.configure(connection=connection, version_table_schema=schema, target_metadata=None)
        with context.begin_transaction():
            context.run_migrations()

    async def main() -> None:
        engine = create_async_engine(asyncpg_url(url))
        try:
            async with engine.connect() as conn:
                # Two replicas starting together must not both migrate: serialise on the schema name.
                await conn.execute(text("select pg_advisory_lock(hashtext(:s))"), {"s": schema})
                await conn.execute(text(f'create schema if not exists "{schema}"'))
                await conn.execute(text(f'set search_path to "{schema}"'))
                await conn.commit()
                await conn.run_sync(do_run)
                await conn.commit()
                await conn.execute(text("select pg_advisory_unlock(hashtext(:s))"), {"s": schema})
        finally:
            await engine.dispose()

    asyncio.run(main())


def main(argv: list[str] | None = None) -> int:
    """`python -m shared.messaging.migrate SERVICE`: migrate SERVICE's schema and exit. Reads DATABASE_URL
    and DATABASE_SCHEMA like the service does; on Kubernetes it runs as the pod's init container, so the
    service itself starts with MIGRATE_ON_START=false."""
    from shared.settings import CommonSettings

    parser = argparse.ArgumentParser(prog="python -m shared.messaging.migrate", description=main.__doc__)
    parser.add_argument("service", choices=sorted(p.name for p in SERVICES.iterdir() if (p / "migrations").is_dir()))
    args = parser.parse_args(argv)
    settings = CommonSettings()
    upgrade(args.service, settings.database_url, settings.database_schema or args.service)
    return 0


if __name__ == "__main__":
    sys.exit(main())
