"""Alembic environment of the notification schema (the kit runs it inside the schema)."""
from shared.messaging.migrate import run_env

run_env()
