"""Events the audit service publishes on audit.events; payload shapes only, no rules, ledger code or I/O."""
from __future__ import annotations

import uuid
from typing import ClassVar, Literal

from pydantic import Field

from shared.contracts.common import ActorRole, UtcDatetime
from shared.contracts.envelope import Event
from shared.contracts.topics import AUDIT_EVENTS

# R25's anti-misappropriation checks, plus signs of coerced enrollment (R1) and missing insurance (R30).
AnomalyCheck = Literal[
    "charge_to_unenrolled",
    "charge_to_exempt",
    "charge_above_standard",
    "charge_without_session",
    "income_not_deposited",
    "spending_outside_categories",
    "management_fee",
    "payout_not_per_plan",
    "books_unbalanced",
    "coerced_applications",
    "insurance_missing",
]

# Version 2 widens the vocabulary (a wider closed set is a new version, STYLE.md): a disclosure period
# that passed without a disclosure (R21), and one event id delivered with two different bodies (R24).
AnomalyCheckV2 = Literal[
    "charge_to_unenrolled",
    "charge_to_exempt",
    "charge_above_standard",
    "charge_without_session",
    "income_not_deposited",
    "spending_outside_categories",
    "management_fee",
    "payout_not_per_plan",
    "books_unbalanced",
    "coerced_applications",
    "insurance_missing",
    "disclosure_missing",
    "conflicting_duplicate",
]

EvidenceValue = str | int | bool | None


class LedgerCheckpointPublished(Event):
    """The audit service signed and published a checkpoint of the money ledger: its size and Merkle
    root (RFC 6962), so anyone can verify inclusion and consistency proofs against it (R24, R26)."""

    type_name: ClassVar[str] = "LedgerCheckpointPublished"
    version: ClassVar[int] = 1
    topic: ClassVar[str] = AUDIT_EVENTS
    # One ledger, one key: checkpoints stay in order on one partition.
    key_field: ClassVar[str] = "log_id"

    log_id: str = Field(description="Origin line identifying the ledger (C2SP checkpoint).", examples=["beilei.example/ledger"])
    tree_size: int = Field(ge=0, description="Number of entries in the ledger.", examples=[1048576])
    root_hash: str = Field(
        pattern=r"^[A-Za-z0-9+/]{43}=$",
        description="Merkle tree root hash (SHA-256), standard base64.",
        examples=["47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="],
    )
    signed_note: str = Field(
        description="The full C2SP signed note: origin, size and root lines, a blank line, signature lines.",
        examples=[
            "beilei.example/ledger\n1048576\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n\n"
            "— beilei.example/ledger Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5/Zhcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=\n"
        ],
    )
    published_by: str = Field(description="Who published it (R27): the audit service.", examples=["audit"])
    published_by_role: ActorRole = Field(description="Role of who published it (R27).", examples=["platform"])
    published_at: UtcDatetime = Field(description="When it was signed.", examples=["2025-09-12T10:00:00Z"])


class AnomalyDetected(Event):
    """An audit check over the ledger and the events it cross-checks found something wrong; auditors
    are alerted (R1, R25, R30)."""

    type_name: ClassVar[str] = "AnomalyDetected"
    version: ClassVar[int] = 1
    topic: ClassVar[str] = AUDIT_EVENTS
    key_field: ClassVar[str] = "school_id"

    anomaly_id: str = Field(description="Anomaly id.", examples=["anm-000017"])
    check: AnomalyCheck = Field(description="Which check failed (R25).", examples=["charge_above_standard"])
    severity: Literal["info", "warning", "critical"] = Field(description="How urgent it is.", examples=["critical"])
    school_id: str = Field(description="School concerned.", examples=["sch-0042"])
    district_id: str | None = Field(default=None, description="District of the school, if known.", examples=["dst-07"])
    student_id: str | None = Field(default=None, description="Student concerned, if any.", examples=["stu-000123"])
    amount_fen: int | None = Field(default=None, ge=0, description="Money involved, in fen, if any.", examples=[500])
    subject_event_ids: list[uuid.UUID] = Field(
        description="event_ids of the events found wrong.", examples=[["5f0c1d2e-3a4b-4c5d-8e6f-7a8b9c0d1e2f"]]
    )
    ledger_indexes: list[int] = Field(
        default_factory=list, description="Their ledger entry indexes, for inclusion proofs (R26).", examples=[[1048570]]
    )
    detail: str = Field(description="What was found, for the auditor.", examples=["charged 2000 fen per session; standard is 1500"])
    detected_by: str = Field(description="Who detected it (R27): the audit service or an auditor.", examples=["audit"])
    detected_by_role: ActorRole = Field(description="Role of who detected it (R27).", examples=["platform"])
    detected_at: UtcDatetime = Field(description="When it was detected.", examples=["2025-10-01T01:05:00Z"])
    evidence: dict[str, EvidenceValue] = Field(
        default_factory=dict,
        description="The facts the check compared, by name (amounts in fen end in _fen), for the auditor.",
        examples=[{"unit_price_fen": 2000, "standard_fen": 1500, "fee_schedule_id": "fsc-0042-2025a"}],
    )
    ledger_tree_size: int | None = Field(
        default=None,
        ge=0,
        description="Size of a signed ledger checkpoint that includes ledger_indexes: prove them against it (R26).",
        examples=[1048576],
    )


class AnomalyDetectedV2(AnomalyDetected):
    """An audit check over the ledger and the events it cross-checks found something wrong; auditors
    are alerted (R1, R21, R24, R25, R30). Version 2 adds two checks: a disclosure period that passed
    without a disclosure, and one event id delivered with two different bodies. The audit service
    publishes version 1 for every check version 1 can name, so version 1 readers keep working."""

    type_name: ClassVar[str] = "AnomalyDetected"
    version: ClassVar[int] = 2

    check: AnomalyCheckV2 = Field(description="Which check failed (R21, R24, R25).", examples=["disclosure_missing"])


EVENTS: tuple[type[Event], ...] = (LedgerCheckpointPublished, AnomalyDetected, AnomalyDetectedV2)
