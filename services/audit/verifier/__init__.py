"""The offline ledger verifier (R24, R26): `python -m services.audit.verifier`, its command line in
services/audit/verifier/cli.py; what it checks lives in services/audit/ledger (bundles.py for receipts and
consistency bundles, full_audit.py for a full export)."""

from services.audit.verifier.cli import EXIT_FAILED, EXIT_FINDINGS, EXIT_OK, main

__all__ = ["EXIT_FAILED", "EXIT_FINDINGS", "EXIT_OK", "main"]
