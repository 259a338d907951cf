"""Time-driven rules (R12 absence, R8/R13 extended care and escalation) and the 30-minute exercise rule (R14)."""
from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta

from services.attendance.domain import (
    DayState,
    Enrollment,
    Schedule,
    Slot,
    absence_due,
    compliance,
    escalation_contacts,
    escalation_due,
    extended_care_due,
)
from tests.unit.attendance.conftest import DAY, local

SCHEDULE = Schedule("prg-1", "sch-1", "dst-1", (Slot(frozenset({"fri"}), time(15, 30), time(17, 30)),), time(18, 30),
                    frozenset({"stf-1"}), "pri-1")
WINDOW = SCHEDULE.window(DAY)
ENROLLMENT = Enrollment("stu-1", "prg-1", "sch-1", "李小明", frozenset({"gdn-1"}), frozenset(), class_teacher_id="stf-teacher",
                      filed_at=datetime(2025, 9, 1, tzinfo=UTC))
GRACE = timedelta(minutes=10)


def on_site(**changes) -> DayState:
    return replace(DayState(checked_in_at=local("15:25"), checked_in_by="stf-1"), **changes)


def test_a_student_not_checked_in_by_start_plus_grace_is_absent() -> None:
    assert absence_due(ENROLLMENT, WINDOW, DayState(), GRACE, local("15:40"))


def test_no_absence_is_raised_inside_the_grace_period() -> None:
    assert not absence_due(ENROLLMENT, WINDOW, DayState(), GRACE, local("15:39"))


def test_a_late_arrival_inside_the_grace_period_raises_no_absence() -> None:
    arrived = DayState(checked_in_at=local("15:38"), checked_in_by="stf-1")
    assert not absence_due(ENROLLMENT, WINDOW, arrived, GRACE, local("15:45"))


def test_an_excused_student_raises_no_absence() -> None:
    assert not absence_due(ENROLLMENT, WINDOW, DayState(excused=True), GRACE, local("16:00"))


def test_an_absence_is_raised_only_once() -> None:
    assert not absence_due(ENROLLMENT, WINDOW, DayState(absent_at=local("15:40")), GRACE, local("16:00"))


def test_a_student_filed_after_the_session_started_is_not_expected_that_day() -> None:
    late_filing = replace(ENROLLMENT, filed_at=local("15:35"))
    assert not absence_due(late_filing, WINDOW, DayState(), GRACE, local("16:00"))


def test_a_student_withdrawn_from_that_day_is_not_expected() -> None:
    withdrawn = replace(ENROLLMENT, active=False, withdrawn_from=DAY)
    assert not absence_due(withdrawn, WINDOW, DayState(), GRACE, local("16:00"))


def test_a_child_still_on_site_at_the_session_end_moves_into_extended_care_once() -> None:
    assert not extended_care_due(WINDOW, on_site(), local("17:29"))
    assert extended_care_due(WINDOW, on_site(), local("17:30"))
    assert not extended_care_due(WINDOW, on_site(extended_care_started_at=local("17:30")), local("17:45"))
    assert not extended_care_due(WINDOW, on_site(checked_out_at=local("17:25")), local("17:45"))


def test_a_child_still_on_site_at_the_extended_care_end_is_escalated_once() -> None:
    assert not escalation_due(WINDOW, on_site(), local("18:29"))
    assert escalation_due(WINDOW, on_site(), local("18:30"))
    assert not escalation_due(WINDOW, on_site(escalated_at=local("18:30")), local("18:45"))
    assert not escalation_due(WINDOW, on_site(checked_out_at=local("18:10")), local("18:45"))


def test_without_extended_care_a_child_left_at_the_session_end_is_escalated_straight_away() -> None:
    window = replace(SCHEDULE, extended_care_until=None).window(DAY)
    assert not extended_care_due(window, on_site(), local("17:31"))
    assert escalation_due(window, on_site(), local("17:30"))


def test_an_escalation_reaches_the_responsible_person_and_the_class_teacher() -> None:
    assert escalation_contacts(SCHEDULE, ENROLLMENT) == ["pri-1", "stf-teacher"]
    assert escalation_contacts(SCHEDULE, replace(ENROLLMENT, class_teacher_id=None)) == ["pri-1"]


def test_exercise_minutes_add_up_over_the_day_against_the_thirty_minute_rule() -> None:
    rows, school = compliance("sch-1", DAY, attending=["stu-1", "stu-2", "stu-3"], exercise_minutes={"stu-1": 30, "stu-2": 29})
    assert [(r.student_id, r.exercise_minutes, r.compliant) for r in rows] == [
        ("stu-1", 30, True), ("stu-2", 29, False), ("stu-3", 0, False)]
    assert (school.students, school.compliant, round(school.share, 3)) == (3, 1, 0.333)


def test_a_school_where_nobody_attended_is_not_reported_as_failing() -> None:
    _, school = compliance("sch-1", date(2025, 9, 13), attending=[], exercise_minutes={})
    assert (school.students, school.share) == (0, 1.0)
