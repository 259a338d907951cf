"""The audit workers export what the operators' dashboard and alerts read (docs/operations.md):
checkpoint age and interval, unsigned entries, and anomalies by rule."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

from prometheus_client import CollectorRegistry

from services.audit.workers import LedgerWorkers
from tests.unit.audit.harness import ORIGIN, TestLedger
from tests.unit.audit.money import DAY, School


async def test_checkpoint_and_anomaly_metrics_follow_the_ledger(ledger: TestLedger) -> None:
    registry = CollectorRegistry()
    workers = LedgerWorkers(None, ledger.signer, ORIGIN, ledger.policy,  # type: ignore[arg-type]
                            checkpoint_seconds=5, check_seconds=5, registry=registry)
    value = registry.get_sample_value
    assert value("beilei_ledger_checkpoint_interval_seconds") == 5
    assert value("beilei_anomalies_detected_total", {"rule": "charge_to_unenrolled"}) == 0

    school = School("sch-metrics")
    stranger = "stu-metrics-stranger"
    await ledger.feed(school.schedule(), school.programme(), school.check_in(stranger, DAY), school.charge(stranger))
    async with ledger.uow() as uow:
        await workers._checks(uow, datetime.now(UTC))  # baseline, nothing signed yet
    async with ledger.uow() as uow:
        await workers._checkpoint(uow, datetime.now(UTC) + timedelta(seconds=30))
    assert value("beilei_ledger_unsigned_entries") == 0
    assert value("beilei_ledger_checkpoint_age_seconds") >= 0
    async with ledger.uow() as uow:
        await workers._checks(uow, datetime.now(UTC) + timedelta(minutes=5))
    assert value("beilei_anomalies_detected_total", {"rule": "charge_to_unenrolled"}) == 1
    assert value("beilei_audit_checkpoints_total") == 1
