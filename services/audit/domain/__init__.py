"""Audit's pure rules (no I/O): which events are ledger entries and what bytes they are, the
anti-misappropriation checks, and findings; imports contracts and the ledger primitives only."""
from services.audit.domain.findings import SEVERITY, Finding, anomaly_event
from services.audit.domain.records import (
    MONEY_TYPES,
    RECORD_TYPES,
    leaf_bytes,
    leaf_document,
    opened_document,
    published_bytes,
    read_entry,
    read_signed_entry,
    recorded_opening,
)

__all__ = ["MONEY_TYPES", "RECORD_TYPES", "SEVERITY", "Finding", "anomaly_event", "leaf_bytes", "leaf_document", "read_entry",
           "opened_document", "published_bytes", "read_signed_entry", "recorded_opening"]
