"""Audit service: the append-only, verifiable fee ledger; anti-misappropriation checks (R24-R26)."""
