"""R1: a run of applications entered by one staff member for one programme within minutes is reported as
coerced_applications, once per school day, with the applications as evidence; fewer, slower, or spread over
staff members is not."""
from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from services.audit.domain.coercion import COERCION_THRESHOLD, StaffEntered, coerced_applications

T0 = datetime(2025, 8, 27, 2, 0, tzinfo=UTC)  # 10:00 school-local


def _entered(n: int, *, every: timedelta = timedelta(seconds=30), staff: str = "stf-7", start: datetime = T0,
             programme: str = "prg-1") -> list[StaffEntered]:
    return [StaffEntered(f"app-{staff}-{start:%H%M}-{i}", "sch-1", programme, staff, start + i * every, uuid.uuid4())
            for i in range(n)]


def test_a_class_entered_by_one_staff_member_within_minutes_is_reported_once_with_its_applications() -> None:
    rows = _entered(12)
    (finding,) = coerced_applications(rows)
    assert finding.check == "coerced_applications" and finding.severity == "warning"
    assert (finding.school_id, finding.period) == ("sch-1", "2025-08-27")
    assert finding.evidence["applications"] == 12 and finding.evidence["entered_by"] == "stf-7"
    assert finding.evidence["application_ids"].split(",") == [r.application_id for r in rows]
    assert "R1" in finding.detail
    # The same day seen again (a redelivery, or more applications later) is the same finding.
    assert coerced_applications(rows + _entered(3, start=T0 + timedelta(hours=2)))[0].dedup_key == finding.dedup_key


def test_fewer_slower_or_spread_over_staff_is_not_reported() -> None:
    assert coerced_applications(_entered(COERCION_THRESHOLD - 1)) == []
    assert coerced_applications(_entered(12, every=timedelta(minutes=2))) == []  # one every 2 minutes: 7 per window
    spread = _entered(6, staff="stf-7") + _entered(6, staff="stf-8")
    assert coerced_applications(spread) == []
    two_programmes = _entered(6, programme="prg-1") + _entered(6, programme="prg-2")
    assert coerced_applications(two_programmes) == []


def test_the_busiest_window_is_found_inside_a_longer_day() -> None:
    slow = _entered(5, every=timedelta(minutes=20))
    burst = _entered(10, every=timedelta(seconds=40), start=T0 + timedelta(hours=3))
    (finding,) = coerced_applications(slow + burst)
    assert finding.evidence["applications"] == 10
    assert finding.evidence["first_at"] == burst[0].submitted_at.isoformat()


async def test_the_consumer_reports_a_class_entered_by_staff_once_even_when_it_arrives_over_several_batches(
        ledger) -> None:
    """Through audit's handlers on PostgreSQL: 12 applications a staff member entered within 6 minutes,
    consumed in two batches and then redelivered, make one coerced_applications anomaly; a guardian's own
    applications, however many, make none."""
    from shared.contracts.enrollment import ApplicationSubmitted
    from shared.contracts.schema import example_payload

    school = f"sch-coerce-{uuid.uuid4().hex[:6]}"

    def application(i: int, *, on_behalf: bool, by: str) -> ApplicationSubmitted:
        return ApplicationSubmitted.model_validate({
            **example_payload(ApplicationSubmitted), "application_id": f"app-{school}-{by}-{i}", "school_id": school,
            "programme_id": "prg-coerce", "student_id": f"stu-{school}-{i}", "guardian_id": f"gdn-{school}-{i}",
            "submitted_by": by, "on_behalf": on_behalf, "submitted_by_role": "school_staff" if on_behalf else "guardian",
            "submitted_at": (T0 + timedelta(seconds=30 * i)).isoformat()})

    staff = [application(i, on_behalf=True, by="stf-7") for i in range(12)]
    own = [application(i, on_behalf=False, by=f"gdn-{school}-{i}") for i in range(20, 40)]
    await ledger.feed(*staff[:6], *own)
    assert await ledger.anomalies(school) == []
    await ledger.feed(*staff[6:])
    await ledger.feed(*staff)  # redelivered
    (anomaly,) = await ledger.anomalies(school)
    assert anomaly["check"] == "coerced_applications"
    assert anomaly["evidence"]["applications"] == 12 and anomaly["evidence"]["entered_by"] == "stf-7"


async def test_a_guardians_coercion_report_is_a_coerced_applications_finding_once(ledger) -> None:
    from shared.contracts.enrollment import CoercionReported
    from shared.contracts.schema import example_payload

    school = f"sch-report-{uuid.uuid4().hex[:6]}"
    report = CoercionReported.model_validate({**example_payload(CoercionReported), "school_id": school,
                                              "report_id": f"rpt-{school}"})
    await ledger.feed(report)
    (anomaly,) = await ledger.anomalies(school)
    assert anomaly["check"] == "coerced_applications" and anomaly["evidence"]["report_id"] == f"rpt-{school}"
    assert "R1" in anomaly["detail"]
