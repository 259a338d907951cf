"""Alembic environment of the portal schema (the kit runs it inside the schema)."""
from shared.messaging.migrate import run_env

run_env()
