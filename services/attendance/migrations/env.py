"""Alembic environment of the attendance schema (the kit runs it inside the schema)."""
from shared.messaging.migrate import run_env

run_env()
