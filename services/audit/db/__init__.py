"""Audit's persistence: tables, the unit of work with its repository methods, and the restricted role
it writes with; imports the kit, never another service."""
from services.audit.db.ledger import StoredCheckpoint, StoredEntry
from services.audit.db.roles import WRITER_ROLE, prepare_writer, writer_url
from services.audit.db.uow import AuditUoW

__all__ = ["WRITER_ROLE", "AuditUoW", "StoredCheckpoint", "StoredEntry", "prepare_writer", "writer_url"]
