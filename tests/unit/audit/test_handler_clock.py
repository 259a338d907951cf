"""Audit's consumed-event handlers read the time from the clock they are given, never from the machine:
a finding's detected_at, and the anomaly event that announces it, are the clock's (issue 19 point 2)."""
from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from services.audit.handlers.events import record_coercion_reports, record_programme
from shared.contracts.enrollment import CoercionReported, ProgrammePublished
from shared.contracts.envelope import new_envelope
from shared.contracts.schema import example_payload
from shared.messaging.consumer import Item

STOPPED = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)


class _FindingsOnly:
    """The unit of work's part the findings path uses, recording what it was given."""

    def __init__(self) -> None:
        self.detected: list[datetime] = []
        self.published: list[Any] = []

    async def districts_of(self, schools: set[str]) -> dict[str, str]:
        return {s: "dst-1" for s in schools}

    async def insert_finding(self, finding: Any, *, district_id: str | None, ledger_tree_size: int | None,
                             detected_at: datetime) -> bool:
        self.detected.append(detected_at)
        return True

    def publish(self, event: Any, **ids: Any) -> None:
        self.published.append(event)

    async def upsert_programme(self, *args: Any) -> None:
        return None

    def note_district(self, school_id: str, district_id: str | None) -> None:
        return None


async def test_a_coercion_report_is_detected_at_the_clocks_time() -> None:
    report = CoercionReported.model_validate({**example_payload(CoercionReported), "report_id": f"rpt-{uuid.uuid4()}"})
    uow = _FindingsOnly()
    await record_coercion_reports(uow, [Item(new_envelope(report, producer="enrollment"), report)],  # type: ignore[arg-type]
                                  clock=lambda: STOPPED)
    assert uow.detected == [STOPPED]
    assert [e.detected_at for e in uow.published] == [STOPPED]


async def test_a_programme_whose_cover_lapses_mid_term_is_detected_at_the_clocks_time() -> None:
    payload = example_payload(ProgrammePublished)
    programme = ProgrammePublished.model_validate({
        **payload, "term": "2025-autumn",
        "insurance": {**payload["insurance"], "valid_from": "2025-09-01", "valid_until": "2025-11-30"}})
    uow = _FindingsOnly()
    await record_programme(uow, new_envelope(programme, producer="enrollment"), programme,  # type: ignore[arg-type]
                           clock=lambda: STOPPED)
    assert uow.detected == [STOPPED]
