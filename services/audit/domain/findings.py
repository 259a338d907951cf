"""What an audit check found, and how a finding becomes one AnomalyDetected event (R25); no I/O."""
from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import get_args

from shared.contracts.audit import AnomalyCheck, AnomalyDetected, AnomalyDetectedV2, EvidenceValue
from shared.ids import StableIds

# Money taken or kept away from the school's books is critical; a charge or payout that departs from
# the rules hurts one family or one payout and is a warning; a late disclosure is a warning too.
SEVERITY: dict[str, str] = {
    "charge_to_unenrolled": "warning",
    "charge_to_exempt": "critical",
    "charge_above_standard": "warning",
    "charge_without_session": "warning",
    "income_not_deposited": "critical",
    "spending_outside_categories": "critical",
    "management_fee": "critical",
    "payout_not_per_plan": "warning",
    "books_unbalanced": "critical",
    "coerced_applications": "warning",
    "insurance_missing": "warning",
    "disclosure_missing": "warning",
    "conflicting_duplicate": "critical",
}

_V1_CHECKS = frozenset(get_args(AnomalyCheck))
_EVENT_IDS = StableIds("6f1d3c1e-2b7a-4f43-9a55-3d1f0d8e7c21")


@dataclass(frozen=True)
class Finding:
    """One violation, identified by `dedup_key` so that it is reported exactly once however often the
    check runs (redeliveries, restarts, replays)."""

    check: str
    dedup_key: str
    school_id: str
    detail: str
    subject_event_ids: tuple[uuid.UUID, ...] = ()
    ledger_indexes: tuple[int, ...] = ()
    student_id: str | None = None
    amount_fen: int | None = None
    period: str | None = None
    evidence: dict[str, EvidenceValue] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.check not in SEVERITY:
            raise ValueError(f"unknown check {self.check!r}")

    @property
    def severity(self) -> str:
        return SEVERITY[self.check]

    @property
    def anomaly_id(self) -> str:
        return "anm-" + hashlib.sha256(self.dedup_key.encode()).hexdigest()[:24]

    @property
    def event_id(self) -> uuid.UUID:
        return _EVENT_IDS(self.dedup_key)


def anomaly_event(
    finding: Finding, *, district_id: str | None, ledger_tree_size: int | None, detected_at: datetime
) -> AnomalyDetected:
    """The event for a finding: version 1 whenever version 1 can name the check, so that its readers
    keep working; version 2 for the checks only it can name."""
    cls = AnomalyDetected if finding.check in _V1_CHECKS else AnomalyDetectedV2
    return cls(
        anomaly_id=finding.anomaly_id,
        check=finding.check,
        severity=finding.severity,
        school_id=finding.school_id,
        district_id=district_id,
        student_id=finding.student_id,
        amount_fen=finding.amount_fen,
        subject_event_ids=list(finding.subject_event_ids),
        ledger_indexes=list(finding.ledger_indexes),
        detail=finding.detail,
        detected_by="audit",
        detected_by_role="platform",
        detected_at=detected_at,
        evidence=dict(finding.evidence),
        ledger_tree_size=ledger_tree_size,
    )
