"""What each consumed event tells whom: the template and its values, in names families know (never ids),
for guardians, the staff answering for a child, a school's families and auditors (R11-R13, R22, R23).
No I/O but one read of names (known_for)."""
from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from services.notification.db import Known, NotificationUoW
from services.notification.domain.policy import SHANGHAI, Duty
from services.notification.domain.templates import day, page_for_people, period, portal_page, teacher, yuan
from shared.contracts.attendance import (
    ExtendedCareEscalated,
    ExtendedCareStarted,
    StudentAbsent,
    StudentCheckedIn,
    StudentCheckedOut,
    UnauthorisedPickupRefused,
)
from shared.contracts.billing import DisclosurePublished
from shared.contracts.enrollment import ProgrammePublished


def hm(at: datetime) -> str:
    return at.astimezone(SHANGHAI).strftime("%H:%M")


# -- names for messages (issue 16: messages spoke in ids) ------------------------------------------------

def staff_name(known: Known, staff_id: str) -> str:
    """A staff member as families address them (surname + 老师), or just "老师": never their id."""
    return teacher(known.staff.get(staff_id))


def programme_name(known: Known, programme_id: str) -> str:
    return known.programmes.get(programme_id) or "@the_programme"


def school_name(known: Known, school_id: str | None) -> str:
    return known.schools.get(school_id or "") or "@the_school"


async def known_for(uow: NotificationUoW, events: Sequence[Any]) -> Known:
    """One read of the names of the staff and programmes these events mention."""
    staff = {getattr(e, f) for e in events
             for f in ("checked_in_by", "handed_over_by", "supervising_staff_id", "refused_by") if getattr(e, f, None)}
    programmes = {e.programme_id for e in events if getattr(e, "programme_id", None)}
    return await uow.known(sorted(staff), sorted(programmes))


# -- messages to the guardian an event names (enrollment.events, billing.events) ----------------------
# Each gives the template and values, given the student's name (the event's own where it carries one,
# else the name learnt from an earlier application or enrollment, or a stand-in word) and the names of
# the programmes known.

Compose = Callable[[Any, str, Known], tuple[str, dict]]

TO_GUARDIAN: dict[str, Compose] = {
    "ApplicationSubmitted": lambda e, student, k: (
        "application_submitted", {"student": student, "programme": programme_name(k, e.programme_id)}),
    "ApplicationApproved": lambda e, student, k: (
        "application_promoted" if e.promoted_from_waitlist else "application_approved",
        {"student": student, "programme": programme_name(k, e.programme_id)}),
    "ApplicationWaitlisted": lambda e, student, k: (  # issue 16: being waitlisted was never told (R6)
        "application_waitlisted",
        {"student": student, "programme": programme_name(k, e.programme_id), "position": str(e.position)}),
    "ApplicationRejected": lambda e, student, k: (
        "application_rejected", {"student": student, "programme": programme_name(k, e.programme_id), "reason": e.reason}),
    "EnrollmentFiled": lambda e, student, k: (
        "enrollment_filed", {"student": student, "programme": programme_name(k, e.programme_id)}),
    "EnrollmentWithdrawn": lambda e, student, k: (
        "enrollment_withdrawn",
        {"student": student, "programme": programme_name(k, e.programme_id), "date": day(e.effective_on)}),
    "FeeCharged": lambda e, student, k: ("fee_due", {
        "student": student, "amount": yuan(e.amount_fen), "period": period(e.period_start, e.period_end),
        "quantity": str(e.quantity), "due": day(e.due_at.astimezone(SHANGHAI).date())}),
    "FeeSettled": lambda e, student, k: ("fee_statement", {
        "student": student, "period": period(e.period_start, e.period_end), "provided": str(e.sessions_provided),
        "attended": str(e.sessions_attended), "charged": yuan(e.charged_fen), "waived": yuan(e.waived_fen),
        "paid": yuan(e.paid_fen), "refund": yuan(e.refund_due_fen), "outstanding": yuan(e.outstanding_fen)}),
    "PaymentReceived": lambda e, student, k: (
        "payment_received", {"student": student, "amount": yuan(e.amount_fen), "method": f"@{e.method}"}),
    "FeeWaived": lambda e, student, k: (
        "fee_waived", {"student": student, "amount": yuan(e.amount_fen), "reason": f"@{e.reason}"}),
    "RefundIssued": lambda e, student, k: (
        "refund_issued", {"student": student, "amount": yuan(e.amount_fen), "reason": f"@{e.reason}"}),
}


# -- attendance.events ----------------------------------------------------------------------------
# What each attendance event about a student tells the guardians: its template and values, given the
# student's name (or a stand-in word when it is not known).

def _check_in(event: StudentCheckedIn, student: str, known: Known) -> tuple[str, dict]:
    return "check_in", {"student": student, "time": hm(event.checked_in_at),
                        "staff": staff_name(known, event.checked_in_by)}


def _pickup(event: StudentCheckedOut, student: str, known: Known) -> tuple[str, dict]:
    """R11, R22: who collected the child, when, and who handed the child over."""
    out = {"student": student, "time": hm(event.checked_out_at), "collector": event.collected_by_name,
           "relation": f"@{event.collected_by_relation}", "staff": staff_name(known, event.handed_over_by)}
    if event.extended_care:
        return "pickup_extended_care", {**out, "minutes": str(event.extended_care_minutes)}
    return "pickup", out


def _absence(event: StudentAbsent, student: str, known: Known) -> tuple[str, dict]:
    return "absence", {"student": student, "date": day(event.session_date), "start": hm(event.session_starts_at),
                       "grace": str(event.grace_minutes)}


def _extended_care(event: ExtendedCareStarted, student: str, known: Known) -> tuple[str, dict]:
    return "extended_care", {"student": student, "ended": hm(event.session_ended_at),
                             "staff": staff_name(known, event.supervising_staff_id),
                             "until": hm(event.extended_care_ends_at)}


def _escalation(event: ExtendedCareEscalated, student: str, known: Known) -> tuple[str, dict]:
    return "extended_care_escalated", {"student": student, "ended": hm(event.extended_care_ended_at),
                                       "staff": staff_name(known, event.supervising_staff_id)}


def _unauthorised_pickup(event: UnauthorisedPickupRefused, student: str, known: Known) -> tuple[str, dict]:
    return "unauthorised_pickup", {"student": student, "time": hm(event.refused_at),
                                   "claimant": event.claimant_name or "@unknown", "reason": f"@{event.reason}",
                                   "staff": staff_name(known, event.refused_by)}


ABOUT_STUDENT: dict[str, Compose] = {
    "StudentCheckedIn": _check_in, "StudentCheckedOut": _pickup, "StudentAbsent": _absence,
    "ExtendedCareStarted": _extended_care, "ExtendedCareEscalated": _escalation,
    "UnauthorisedPickupRefused": _unauthorised_pickup,
}

# Issue 16, R11-R13: the safety events the staff answering for the child hear too, in their own words,
# and who answers for each: absence -> the class teacher; an escalation -> the programme lead and the
# school's safety contact; an unauthorised pickup attempt -> the safety contact. All are urgent kinds, so
# quiet hours never hold them.
TO_STAFF: dict[str, tuple[str, tuple[Duty, ...]]] = {
    "StudentAbsent": ("absence_staff", ("class_teacher",)),
    "ExtendedCareEscalated": ("extended_care_escalated_staff", ("programme_lead", "safety_contact")),
    "UnauthorisedPickupRefused": ("unauthorised_pickup_staff", ("safety_contact",)),
}


def _staff_params(event: Any, student: str, known: Known) -> dict:
    """The guardians' values for the event, plus the programme by name (the staff template may name it)."""
    return {**ABOUT_STUDENT[type(event).type_name](event, student, known)[1],
            "programme": programme_name(known, event.programme_id)}


# -- broadcasts to a school's families (R4, R7, R21, R23) and to auditors (R25) -----------------------

def _programme(event: ProgrammePublished, known: Known, portal: str | None) -> tuple[str, dict]:
    """R4, R7, R23: the programme and its fee standard reach the families of the school; the link goes to the
    school's page on the portal when there is one."""
    params = {"school": event.school_name or school_name(known, event.school_id), "programme": event.name,
              "fee": yuan(event.fee_per_session_fen),
              "extended_fee": yuan(event.extended_care_fee_per_session_fen)}
    url = portal_page(portal, f"/s/{event.school_id}") or page_for_people(event.disclosure_url)
    if not url:  # issue 16: a notice ending in "详情：-", or opening an API's JSON, tells a parent nothing
        return "programme_disclosure_no_link", params
    return "programme_disclosure", {**params, "url": url}


def _finances(event: DisclosurePublished, known: Known, portal: str | None) -> tuple[str, dict]:
    """R21, R23: periodic income and spending reach the families of the school; the link goes to the
    disclosure's page on the portal, where the family can verify the figures against the ledger."""
    spent = (event.payouts_fen + event.staff_remuneration_fen + event.extra_hours_operating_fen
             + event.group_accident_insurance_fen)
    params = {"school": school_name(known, event.school_id), "start": day(event.period_start), "end": day(event.period_end),
              "income": yuan(event.fee_income_fen), "subsidy": yuan(event.subsidy_income_fen), "spent": yuan(spent),
              "balance": yuan(event.balance_fen)}
    # billing's own /v1/disclosures answers JSON, not a page for people
    url = portal_page(portal, f"/d/{event.disclosure_id}") or page_for_people(event.url)
    return ("finance_disclosure", {**params, "url": url}) if url else ("finance_disclosure_no_link", params)


TO_FAMILIES: dict[str, Callable[[Any, Known, str | None], tuple[str, dict]]] = {
    "ProgrammePublished": _programme, "DisclosurePublished": _finances,
}
