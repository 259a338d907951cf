"""The rules a check-in, check-out or activity record must pass (R11, R14, R15, R28), as pure functions."""
from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta

from services.attendance.domain import (
    Activity,
    CheckIn,
    CheckOut,
    DayState,
    Duplicate,
    Enrollment,
    Limits,
    Record,
    Refusal,
    Rejection,
    Schedule,
    Slot,
    apply,
    decide,
    resolve_enrollment,
    screen,
)
from tests.unit.attendance.conftest import DAY, local

SCHEDULE = Schedule("prg-1", "sch-1", "dst-1", (Slot(frozenset({"mon", "tue", "wed", "thu", "fri"}), time(15, 30), time(17, 30)),),
                    time(18, 30), frozenset({"stf-admitted"}), "pri-1")
ENROLLMENT = Enrollment("stu-1", "prg-1", "sch-1", "李小明", frozenset({"gdn-1", "gdn-2"}), frozenset({"pku-1"}),
                      revoked_pickup_ids=frozenset({"pku-old"}), class_teacher_id="stf-teacher")
WINDOW = SCHEDULE.window(DAY)


def record(kind: str, hhmm: str, **changes) -> Record:
    base = Record(record_id=f"r-{kind}-{hhmm}", kind=kind, school_id="sch-1", student_id="stu-1", at=local(hhmm), session_date=DAY,
                  staff_id="stf-admitted", staff_role="school_staff", system_id="sys-1")
    if kind == "check_out":
        base = replace(base, collected_by_id="gdn-1")
    if kind == "activity":
        base = replace(base, activity_id="act-1", tier="sports", minutes=45, exercise_minutes=40)
    return replace(base, **changes)


def checked_in(at: str = "15:25") -> DayState:
    return DayState(checked_in_at=local(at), checked_in_by="stf-admitted")


def test_a_guardian_collecting_from_an_admitted_staff_member_is_a_valid_handover() -> None:
    decision = decide(record("check_out", "17:20"), ENROLLMENT, SCHEDULE, WINDOW, checked_in(), {"gdn-1": "王芳"})
    assert isinstance(decision, CheckOut)
    assert (decision.relation, decision.collector_name, decision.extended_care_minutes) == ("guardian", "王芳", 0)


def test_a_second_registered_guardian_may_collect_too() -> None:
    decision = decide(record("check_out", "17:20", collected_by_id="gdn-2"), ENROLLMENT, SCHEDULE, WINDOW, checked_in())
    assert isinstance(decision, CheckOut) and decision.relation == "guardian"


def test_an_authorised_pickup_person_may_collect_and_is_named_as_the_gate_recorded() -> None:
    decision = decide(record("check_out", "17:20", collected_by_id="pku-1", collected_by_name="张阿姨"),
                      ENROLLMENT, SCHEDULE, WINDOW, checked_in())
    assert isinstance(decision, CheckOut)
    assert (decision.relation, decision.collector_name) == ("authorised_pickup", "张阿姨")


def test_an_unauthorised_collector_is_refused_and_the_child_stays() -> None:
    state = checked_in()
    decision = decide(record("check_out", "17:20", collected_by_id="stranger-9", collected_by_name="张三"),
                      ENROLLMENT, SCHEDULE, WINDOW, state)
    assert isinstance(decision, Refusal) and decision.reason == "not_on_pickup_list"
    apply(decision, state)
    assert state.on_site, "a refused pickup leaves the child on site (R11)"


def test_a_revoked_pickup_person_is_refused_as_revoked() -> None:
    decision = decide(record("check_out", "17:20", collected_by_id="pku-old"), ENROLLMENT, SCHEDULE, WINDOW, checked_in())
    assert isinstance(decision, Refusal) and decision.reason == "pickup_revoked"


def test_an_unauthorised_collector_is_refused_even_when_the_staff_member_is_not_admitted() -> None:
    decision = decide(record("check_out", "17:20", collected_by_id="stranger-9", staff_id="stf-unknown"),
                      ENROLLMENT, SCHEDULE, WINDOW, checked_in())
    assert isinstance(decision, Refusal)


def test_a_check_out_without_a_check_in_is_rejected() -> None:
    decision = decide(record("check_out", "17:20"), ENROLLMENT, SCHEDULE, WINDOW, DayState())
    assert isinstance(decision, Rejection) and decision.code == "not_checked_in"


def test_a_check_out_before_the_check_in_time_is_rejected() -> None:
    decision = decide(record("check_out", "15:00"), ENROLLMENT, SCHEDULE, WINDOW, checked_in("15:25"))
    assert isinstance(decision, Rejection) and decision.code == "check_out_before_check_in"


def test_a_handover_by_staff_who_are_not_admitted_is_rejected() -> None:
    decision = decide(record("check_out", "17:20", staff_id="stf-removed"), ENROLLMENT, SCHEDULE, WINDOW, checked_in())
    assert isinstance(decision, Rejection) and decision.code == "staff_not_admitted"
    assert "R28" in decision.reason


def test_a_check_in_by_staff_who_are_not_admitted_is_rejected() -> None:
    decision = decide(record("check_in", "15:25", staff_id="stf-removed"), ENROLLMENT, SCHEDULE, WINDOW, DayState())
    assert isinstance(decision, Rejection) and decision.code == "staff_not_admitted"


def test_a_second_check_in_of_the_same_child_is_a_duplicate_that_changes_nothing() -> None:
    state = checked_in("15:20")
    decision = decide(record("check_in", "15:26", record_id="another-id"), ENROLLMENT, SCHEDULE, WINDOW, state)
    assert isinstance(decision, Duplicate) and decision.code == "already_checked_in"
    apply(decision, state)
    assert state.checked_in_at == local("15:20")


def test_a_second_check_out_of_the_same_child_is_a_duplicate() -> None:
    state = checked_in()
    state.checked_out_at = local("17:10")
    decision = decide(record("check_out", "17:15"), ENROLLMENT, SCHEDULE, WINDOW, state)
    assert isinstance(decision, Duplicate) and decision.code == "already_checked_out"


def test_out_of_order_records_applied_in_time_order_give_a_valid_day() -> None:
    records = [record("check_out", "17:40"), record("activity", "16:00"), record("check_in", "15:25")]
    state = DayState()
    decisions = []
    for r in sorted(records, key=lambda r: r.order):
        decisions.append(decide(r, ENROLLMENT, SCHEDULE, WINDOW, state))
        apply(decisions[-1], state)
    assert [type(d) for d in decisions] == [CheckIn, Activity, CheckOut]
    assert decisions[-1].extended_care_minutes == 10, "collected ten minutes past the 17:30 end (R13)"


def test_a_pickup_past_the_session_end_counts_whole_minutes_of_extended_care() -> None:
    decision = decide(record("check_out", "17:30", at=local("17:30") + timedelta(seconds=61)),
                      ENROLLMENT, SCHEDULE, WINDOW, checked_in())
    assert isinstance(decision, CheckOut) and decision.extended_care_minutes == 2


def test_screen_rejects_a_time_on_another_day_than_the_session_date() -> None:
    rejection = screen(record("check_in", "15:25", session_date=date(2025, 9, 11)), local("16:00"), Limits())
    assert rejection is not None and rejection.code == "time_not_on_session_date"


def test_screen_rejects_records_from_the_future_and_from_too_long_ago() -> None:
    assert screen(record("check_in", "15:25"), local("15:00"), Limits()).code == "in_future"
    late = local("16:00") + timedelta(days=8)
    assert screen(record("check_in", "15:25"), late, Limits()).code == "too_old"


def test_screen_accepts_a_late_record_within_the_limits_and_small_clock_skew() -> None:
    assert screen(record("check_in", "15:25"), local("15:22"), Limits()) is None
    assert screen(record("check_in", "15:25"), local("15:25") + timedelta(days=6), Limits()) is None


def test_screen_rejects_a_guardian_named_as_the_staff_member() -> None:
    assert screen(record("check_in", "15:25", staff_role="guardian"), local("16:00"), Limits()).code == "staff_role_not_allowed"


def test_screen_rejects_more_exercise_than_the_activity_lasted() -> None:
    rejection = screen(record("activity", "16:00", minutes=20, exercise_minutes=30), local("17:00"), Limits())
    assert rejection is not None and rejection.code == "exercise_exceeds_minutes"


def test_only_students_on_the_schools_roster_resolve() -> None:
    schedules = {"prg-1": SCHEDULE}
    assert resolve_enrollment("sch-1", "stu-1", None, DAY, [ENROLLMENT], schedules)[0] == ENROLLMENT
    assert resolve_enrollment("sch-2", "stu-1", None, DAY, [ENROLLMENT], schedules).code == "unknown_student"
    assert resolve_enrollment("sch-1", "stu-1", "prg-other", DAY, [ENROLLMENT], schedules).code == "unknown_student"


def test_a_withdrawn_student_is_on_the_roster_only_before_the_withdrawal_takes_effect() -> None:
    withdrawn = replace(ENROLLMENT, active=False, withdrawn_from=date(2025, 9, 13))
    assert resolve_enrollment("sch-1", "stu-1", None, DAY, [withdrawn], {"prg-1": SCHEDULE})[0] == withdrawn
    gone = replace(withdrawn, withdrawn_from=DAY)
    assert resolve_enrollment("sch-1", "stu-1", None, DAY, [gone], {"prg-1": SCHEDULE}).code == "withdrawn"


def test_a_day_without_a_session_or_an_unpublished_programme_is_rejected_with_its_reason() -> None:
    saturday = date(2025, 9, 13)
    assert resolve_enrollment("sch-1", "stu-1", None, saturday, [ENROLLMENT], {"prg-1": SCHEDULE}).code == "no_session"
    assert resolve_enrollment("sch-1", "stu-1", None, DAY, [ENROLLMENT], {}).code == "programme_unknown"


def test_two_sessions_on_one_day_need_the_programme_named() -> None:
    second = replace(ENROLLMENT, programme_id="prg-2")
    schedules = {"prg-1": SCHEDULE, "prg-2": replace(SCHEDULE, programme_id="prg-2")}
    assert resolve_enrollment("sch-1", "stu-1", None, DAY, [ENROLLMENT, second], schedules).code == "ambiguous_programme"
    assert resolve_enrollment("sch-1", "stu-1", "prg-2", DAY, [ENROLLMENT, second], schedules)[0] == second


def test_a_session_window_is_the_local_timetable_in_utc() -> None:
    assert WINDOW.starts_at == datetime(2025, 9, 12, 7, 30, tzinfo=UTC)
    assert WINDOW.ends_at == datetime(2025, 9, 12, 9, 30, tzinfo=UTC)
    assert WINDOW.extended_care_ends_at == datetime(2025, 9, 12, 10, 30, tzinfo=UTC)
    assert replace(SCHEDULE, extended_care_until=None).window(DAY).escalation_due_at == WINDOW.ends_at
