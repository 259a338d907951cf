"""Enrollment's pure rules, without any storage: the workflow's steps, places, consent, the coercion
signal, who may act, and phone numbers (R1, R6, R7, R9, R27)."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.enrollment.domain import (
    Actor,
    Conflict,
    DomainError,
    Forbidden,
    check_applications_open,
    check_consent,
    coercion_signal,
    hardship_status,
    normalise_mobile,
    place,
    require_own_child,
    step,
)

NOW = datetime(2026, 3, 1, 2, 0, tzinfo=UTC)


@pytest.mark.parametrize("command, status, moves", [
    ("approve", "submitted", True), ("approve", "approved", False), ("approve", "waitlisted", False),
    ("approve", "filed", False), ("reject", "waitlisted", True), ("reject", "rejected", False),
    ("report", "approved", True), ("report", "filed", False), ("file", "reported", True), ("file", "filed", False),
    ("withdraw", "submitted", True), ("withdraw", "filed", True), ("withdraw", "withdrawn", False),
])
def test_each_command_moves_on_from_its_states_and_repeats_as_a_no_op(command, status, moves) -> None:
    assert step(command, status) is moves


@pytest.mark.parametrize("command, status, reason", [
    ("approve", "rejected", "rejected"), ("approve", "withdrawn", "withdrawn"), ("reject", "filed", "withdrawing"),
    ("report", "submitted", "approve it before reporting"), ("file", "approved", "report it before"),
    ("withdraw", "rejected", "rejected"),
])
def test_steps_that_cannot_follow_the_state_are_conflicts_with_a_reason(command, status, reason) -> None:
    with pytest.raises(Conflict, match=reason):
        step(command, status)


def test_a_full_programme_puts_approvals_on_the_waitlist_in_order() -> None:
    assert place(2, 1, 0).status == "approved"
    waiting = place(2, 2, 3)
    assert waiting.status == "waitlisted" and waiting.position == 4


def test_applications_open_only_after_disclosure_and_within_the_window() -> None:
    with pytest.raises(DomainError, match="R4"):
        check_applications_open(published=False, open_at=None, close_at=None, now=NOW)
    with pytest.raises(DomainError, match="open at"):
        check_applications_open(published=True, open_at=NOW + timedelta(hours=1), close_at=NOW + timedelta(days=1), now=NOW)
    with pytest.raises(DomainError, match="closed at"):
        check_applications_open(published=True, open_at=NOW - timedelta(days=2), close_at=NOW, now=NOW)
    check_applications_open(published=True, open_at=NOW, close_at=NOW + timedelta(days=1), now=NOW)


def test_staff_entries_need_the_guardians_consent_on_record() -> None:
    check_consent(True, on_behalf=False, consent_evidence=None)
    check_consent(True, on_behalf=True, consent_evidence="签字表")
    with pytest.raises(DomainError, match="how the guardian consented"):
        check_consent(True, on_behalf=True, consent_evidence=None)
    with pytest.raises(DomainError, match="consent is required"):
        check_consent(False, on_behalf=False, consent_evidence=None)


def test_hardship_counts_only_with_a_named_verifier() -> None:
    assert hardship_status(verified=True, verified_by="stf-1") == (True, "stf-1")
    assert hardship_status(verified=False, verified_by="stf-1") == (False, None)
    with pytest.raises(DomainError, match="R9"):
        hardship_status(verified=True, verified_by=None)


@pytest.mark.parametrize("applications, on_behalf, flagged", [(10, 5, True), (10, 4, False), (4, 4, False), (0, 0, False)])
def test_a_class_is_flagged_when_staff_entered_a_large_share_of_enough_applications(applications, on_behalf, flagged) -> None:
    assert coercion_signal(applications, on_behalf, threshold=0.5, minimum=5) is flagged


def test_guardians_act_only_as_themselves_and_for_their_own_children() -> None:
    me = Actor("gdn-1", "guardian")
    require_own_child(me, guardian_id="gdn-1", guardian_children=("stu-1",), student_id="stu-1")
    with pytest.raises(Forbidden, match="own child"):
        require_own_child(me, guardian_id="gdn-1", guardian_children=("stu-1",), student_id="stu-2")
    with pytest.raises(Forbidden, match="as themselves"):
        require_own_child(me, guardian_id="gdn-2", guardian_children=("stu-2",), student_id="stu-2")
    with pytest.raises(Forbidden, match="not registered"):
        require_own_child(me, guardian_id="gdn-1", guardian_children=None, student_id="stu-1")


def test_each_role_sees_its_own_schools_and_is_named_by_its_role_in_events() -> None:
    assert Actor("s", "school", school_id="a").sees_school("a", "d") and not Actor("s", "school", school_id="a").sees_school("b", "d")
    assert Actor("o", "district", district_id="d").sees_school("x", "d")
    assert not Actor("o", "district", district_id="d").sees_school("x", "e")
    assert Actor("c", "city").sees_school("x", None) and not Actor("g", "guardian").sees_school("x", "d")
    assert Actor("s", "school", position="principal").event_role == "principal"
    assert Actor("s", "school", position="teacher").event_role == "school_staff"
    assert Actor("o", "district").event_role == "district_officer" and Actor("c", "city").event_role == "city_officer"


@pytest.mark.parametrize("given", ["13812345678", "+86 138-1234-5678", "8613812345678"])
def test_mainland_mobiles_are_normalised_to_eleven_digits(given) -> None:
    assert normalise_mobile(given) == "13812345678"


@pytest.mark.parametrize("given", ["12812345678", "1381234567", "phone", "+1 415 555 0100"])
def test_other_numbers_are_refused(given) -> None:
    with pytest.raises(DomainError, match="mainland mobile"):
        normalise_mobile(given)
