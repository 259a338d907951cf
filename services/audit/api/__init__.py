"""Audit's HTTP API: public checkpoints, key and consistency proofs; entries with proofs, receipts,
the export, anomalies and reports for auditors and scoped readers (R26, R27, R29)."""
from services.audit.api import auditor, ledger, tiles, witnessed

routers = [ledger.router, witnessed.router, tiles.router, auditor.router]

__all__ = ["routers"]
