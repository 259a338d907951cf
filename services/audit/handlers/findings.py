"""Use case shared by every check: record findings exactly once and publish AnomalyDetected for each
new one, in the caller's transaction (R25)."""
from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from services.audit.db import AuditUoW
from services.audit.domain import Finding, anomaly_event


async def record_findings(uow: AuditUoW, findings: Sequence[Finding], *, ledger_tree_size: int | None,
                          now: datetime) -> list[Finding]:
    """Findings recorded for the first time (each published once); repeats are dropped silently."""
    if not findings:
        return []
    districts = await uow.districts_of({f.school_id for f in findings})
    new = []
    for f in findings:
        district = districts.get(f.school_id)
        if await uow.insert_finding(f, district_id=district, ledger_tree_size=ledger_tree_size, detected_at=now):
            event = anomaly_event(f, district_id=district, ledger_tree_size=ledger_tree_size, detected_at=now)
            uow.publish(event, event_id=f.event_id,
                        causation_id=f.subject_event_ids[0] if f.subject_event_ids else None)
            new.append(f)
    return new
