"""Audit's settings: the common ones plus what only audit reads (ledger identity, key, timing, rules), and
the typed context the composition root builds for the routes."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import Field

from shared.settings import CommonSettings

if TYPE_CHECKING:  # the workers import the handlers and db, which read these settings
    from services.audit.ledger.checkpoint import NoteSigner
    from services.audit.workers import LedgerWorkers

REPO = Path(__file__).resolve().parents[2]


class Settings(CommonSettings):
    http_port: int = 8005
    # Nobody waits on this consumer at the evening's rate: fuller fetches, a fraction of the CPU per event
    # (PickupSurge, issue 13). See CommonSettings.consumer_fetch_max_wait_ms.
    consumer_fetch_min_bytes: int = 512 * 1024
    consumer_fetch_max_wait_ms: int = 500

    ledger_origin: str = Field(
        "beilei.local/audit-ledger",
        description="Origin line of the ledger's checkpoints (C2SP tlog-checkpoint); also the key's name.",
    )
    ledger_signing_key: str | None = Field(
        None, description="Ed25519 signer key, PRIVATE+KEY+<name>+<id>+<base64>; from a Secret in deployments.",
    )
    ledger_signing_key_file: Path = Field(
        REPO / ".local" / "audit" / "ledger-signing.key",
        description="Where the key is read from when LEDGER_SIGNING_KEY is unset; a development key is "
        "generated there on first start.",
    )
    ledger_database_url: str | None = Field(
        None,
        description="URL the service writes with: a role that may only insert into and read the ledger tables "
        "(R24). Unset: the role audit_writer on DATABASE_URL's server, whose password is set at start-up.",
    )
    ledger_writer_password: str = Field(
        "audit-writer-local-only",
        description="Password given to audit_writer when LEDGER_DATABASE_URL is unset (local runs).",
    )
    checkpoint_interval_seconds: float = Field(1.0, description="How often new entries are signed into a checkpoint.")
    check_interval_seconds: float = Field(1.0, description="How often the anti-misappropriation checks run (R25).")
    check_grace_seconds: float = Field(
        3.0,
        description="How long an entry waits before it is checked, so cross-checked events from other topics "
        "(enrollment, attendance) that were produced before it have arrived.",
    )
    disclosure_period_months: int = Field(3, description="Length of a disclosure period (R21): 3 = quarterly.")
    disclosure_grace_days: int = Field(30, description="Days after a period ends by which it must be disclosed (R21).")
    ledger_witnesses: str = Field(
        "",
        description="Witnesses that cosign the ledger's checkpoints (C2SP tlog-witness): comma-separated "
        "'<URL> <cosignature verifier key>' pairs. Empty: no cosigning.",
    )
    ledger_witness_quorum: int | None = Field(
        None, description="How many witnesses must cosign a checkpoint for it to count as cosigned (k of n; "
        "unset: all of them).",
    )
    witness_interval_seconds: float = Field(
        1.0, description="How often the newest checkpoint is sent to the witnesses that have not cosigned it.",
    )

    def witness_list(self) -> list[tuple[str, str]]:
        """The configured witnesses as (URL, verifier key) pairs."""
        pairs = []
        for item in filter(None, (part.strip() for part in self.ledger_witnesses.split(","))):
            url, _, vkey = item.partition(" ")
            if not url.startswith(("http://", "https://")) or not vkey.strip():
                raise ValueError(f"LEDGER_WITNESSES entry {item!r} is not '<URL> <verifier key>'")
            pairs.append((url, vkey.strip()))
        return pairs


@dataclass(frozen=True)
class Context:
    """What audit's routes read besides a unit of work (Runtime.context)."""

    signer: NoteSigner  # signs the ledger's checkpoints; the routes publish its verifier key
    origin: str  # the ledger's origin line, also the key's name
    workers: LedgerWorkers | None = None  # the witnesses' cosigning state, where it runs
