"""Notification's consumer use cases: batch handlers that take a run of consumed events and record at
most one message per event and recipient (guardians, and the staff answering for a child's safety) as an
intent in the consumer's transaction (the sender delivers it), with a few set-based statements per run,
plus the table of which handler takes which event (R11-R13, R22, R23)."""
from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, time
from typing import Any

from services.notification.db import Contact, Intent, Known, NewContact, NotificationUoW, PreferenceRow, Waiting
from services.notification.domain.policy import (
    DEFAULT_PREFERENCES,
    SHANGHAI,
    Duty,
    Intake,
    Preferences,
    Recipient,
    actor_role,
    addressed_as,
    intake,
    is_urgent,
    responsible,
)
from services.notification.domain.templates import (
    day,
    page_for_people,
    period,
    portal_page,
    render,
    teacher,
    template,
    yuan,
)
from shared.contracts.attendance import (
    ExtendedCareEscalated,
    ExtendedCareStarted,
    StudentAbsent,
    StudentCheckedIn,
    StudentCheckedOut,
    UnauthorisedPickupRefused,
)
from shared.contracts.audit import AnomalyDetected
from shared.contracts.billing import DisclosurePublished
from shared.contracts.enrollment import (
    ApplicationSubmitted,
    EnrollmentFiled,
    GuardianRegistered,
    ProgrammePublished,
    StaffAdmissionChanged,
    StaffRegistered,
)
from shared.contracts.envelope import Envelope
from shared.contracts.notification import NotificationFailed
from shared.ids import StableIds
from shared.messaging.consumer import Item, batch_handler
from shared.time import parse_hhmm as school_time

log = logging.getLogger(__name__)

# Ids derived from (event, recipient) are the same on every redelivery and replica.
NAMESPACE = uuid.UUID("6f1c2a52-7b1e-4f7e-9a53-3c1d0b2e8a11")
EVENT_IDS = StableIds(NAMESPACE)

Found = list[tuple[Contact, PreferenceRow | None]]


def out_id(event_id: uuid.UUID, recipient_id: str) -> str:
    """Our id for the message at the provider (Aliyun OutId, Tencent SessionContext): the hex of
    uuid5(NAMESPACE, "<event id>/<recipient id>"), computed without building UUID objects, since a term
    start records one per enrollment."""
    return EVENT_IDS.hex(f"{event_id}/{recipient_id}")


def hm(at: datetime) -> str:
    return at.astimezone(SHANGHAI).strftime("%H:%M")


def parse_hhmm(value: str | None) -> time | None:
    """A preference's HH:MM, or None when it is not set."""
    return school_time(value) if value else None


def preferences_of(row: PreferenceRow | None, defaults: Preferences) -> Preferences:
    if row is None:
        return defaults
    quiet = (parse_hhmm(row.quiet_start), parse_hhmm(row.quiet_end)) if row.quiet_start or row.quiet_end else (None, None)
    return Preferences(row.channels, quiet[0], quiet[1], row.locale)  # type: ignore[arg-type]


def recipient_of(contact: Contact, uow: NotificationUoW) -> Recipient:
    # With no push provider configured, a guardian with the app is reached by SMS straight away.
    push = contact.has_push and getattr(uow, "push_enabled", True)
    return Recipient(contact.recipient_id, contact.role, contact.locale, contact.consent,  # type: ignore[arg-type]
                     has_phone=contact.has_phone, has_push=push)


def contact_of(row: NewContact) -> Contact:
    return Contact(row.recipient_id, row.role, row.locale, row.phone_masked, row.consent,
                   bool(row.phone_sealed), bool(row.push_token_sealed))


def _apply(msg: Intent, taken: Intake, contact: Contact | None, now: datetime) -> None:
    msg.status = taken.status
    msg.plan = list(taken.plan)
    msg.channel = taken.plan[0] if taken.plan else "sms"
    msg.locale = taken.locale
    msg.not_before = taken.not_before
    msg.next_attempt_at = taken.not_before or now
    msg.to_masked = contact.phone_masked if contact else None
    msg.body = render(msg.template, taken.locale, msg.params) if contact else None


def _refusal(uow: NotificationUoW, msg: Intent) -> None:
    """A receipt for a message that will never be sent: no consent, or no way to reach the person."""
    no_consent = msg.status == "suppressed_no_consent"
    uow.publish(
        NotificationFailed(
            notification_id=f"ntf-{msg.out_id}", recipient_id=msg.recipient_id,
            recipient_role=actor_role(msg.recipient_role),  # type: ignore[arg-type]
            addressed_as=addressed_as(msg.recipient_role),  # type: ignore[arg-type]
            channel="sms", kind=msg.kind, student_id=msg.student_id, school_id=msg.school_id,
            cause_event_id=msg.event_id, cause_event_type=msg.cause_event_type,
            error_code="no_consent" if no_consent else "no_contact",
            error="the recipient has not consented to messages" if no_consent else "no phone number or app on file",
            attempts=1, final=True, attempted_by="notification", attempted_by_role="platform",
            failed_at=datetime.now(UTC),
        ),
        correlation_id=msg.correlation_id, causation_id=msg.event_id,
        event_id=EVENT_IDS(f"{msg.out_id}:refused"),
    )


def intents(uow: NotificationUoW, envelope: Envelope, *, found: Found, template_name: str, params: dict,
            student_id: str | None = None, school_id: str | None = None, missing: tuple[str, ...] = (),
            role: str = "guardian", severity: str | None = None, duty: Duty | None = None) -> list[Intent]:
    """One message per recipient for this event: pending (the sender delivers it), waiting for a contact
    not yet known, or refused for want of consent. `duty` records why a staff member is told
    (class_teacher, programme_lead, safety_contact) as the message's recipient role."""
    kind = template(template_name).kind
    urgent = is_urgent(kind, severity=severity)
    defaults: Preferences = getattr(uow, "default_preferences", DEFAULT_PREFERENCES)
    now = datetime.now(UTC)
    rows: list[Intent] = []
    for contact, pref in [*found, *((None, None) for _ in missing)]:
        recipient_id = contact.recipient_id if contact else missing[len(rows) - len(found)]
        msg = Intent(
            event_id=envelope.event_id, out_id=out_id(envelope.event_id, recipient_id), recipient_id=recipient_id,
            recipient_role=duty or (contact.role if contact else role), kind=kind, template=template_name, params=params,
            student_id=student_id, school_id=school_id, cause_event_type=envelope.type, event_at=envelope.occurred_at,
            correlation_id=envelope.correlation_id, urgent=urgent,
        )
        _apply(msg, intake(recipient_of(contact, uow) if contact else None, preferences_of(pref, defaults), urgent=urgent,
                           now=now), contact, now)
        rows.append(msg)
    return rows


REFUSED = ("suppressed_no_consent", "no_channel")


async def record(uow: NotificationUoW, rows: list[Intent]) -> None:
    """Insert a run's messages in one statement; a message already recorded (a redelivered event) adds
    nothing, and each new one that will never be sent gets its refusal receipt."""
    new = await uow.add_messages(rows)
    for msg in rows:
        if msg.status in REFUSED and (msg.event_id, msg.recipient_id) in new:
            new.discard((msg.event_id, msg.recipient_id))  # an event twice in one run is recorded once
            _refusal(uow, msg)


async def release_waiting(uow: NotificationUoW, contacts: dict[str, NewContact]) -> None:
    """Messages that waited for these contacts (R22) take their course now: pending, held for quiet
    hours, or refused with a receipt, as if the contact had been known when they were recorded."""
    waiting: list[Waiting] = await uow.awaiting(sorted(contacts))
    if not waiting:
        return
    defaults: Preferences = getattr(uow, "default_preferences", DEFAULT_PREFERENCES)
    now = datetime.now(UTC)
    for item in waiting:
        msg = item.msg
        contact = contact_of(contacts[msg.recipient_id])
        _apply(msg, intake(recipient_of(contact, uow), preferences_of(item.preference, defaults), urgent=msg.urgent,
                           now=now), contact, now)
        if msg.status == "pending":
            uow.added_pending += 1
        elif msg.status in REFUSED:
            _refusal(uow, msg)
    await uow.release(waiting)


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


async def notify_named_guardians(uow: NotificationUoW, items: Sequence[Item]) -> None:
    """One message per event to the guardian it names: one read of the run's guardians' contacts (with
    preferences), one of the names the events do not carry, one insert. A guardian not known yet gets
    a message that waits for the contact (R22)."""
    if not items:
        return
    unnamed = sorted({item.event.student_id for item in items if getattr(item.event, "student_name", None) is None})
    names = await uow.student_names(unnamed)
    contacts = {contact.recipient_id: (contact, pref)
                for contact, pref in await uow.these(sorted({item.event.guardian_id for item in items}))}
    known = await known_for(uow, [item.event for item in items])
    rows: list[Intent] = []
    for item in items:
        event = item.event
        student = getattr(event, "student_name", None) or names.get(event.student_id) or "@your_child"
        template_name, params = TO_GUARDIAN[item.envelope.type](event, student, known)
        found = contacts.get(event.guardian_id)
        rows += intents(uow, item.envelope, found=[found] if found else [], template_name=template_name, params=params,
                        student_id=event.student_id, school_id=event.school_id,
                        missing=() if found else (event.guardian_id,))
    await record(uow, rows)


# -- enrollment.events ----------------------------------------------------------------------------

@batch_handler
async def apply_enrollment(uow: NotificationUoW, items: Sequence[Item]) -> None:
    """R6, R22: a run of enrollment events about students and their guardians, as a term start publishes
    them (a GuardianRegistered and an EnrollmentFiled per student, interleaved), in a few statements:
    the guardians' contacts (the last registration of a guardian in the run wins, and replaces their
    student links), the students' names, the filed links (kept whichever order the two events came in),
    the events' messages in one insert, then what waited for the contacts registered."""
    registered: dict[str, NewContact] = {}
    staff: dict[str, StaffRegistered] = {}
    decisions: dict[str, StaffAdmissionChanged] = {}
    students: dict[str, tuple[str, str | None]] = {}
    links: dict[tuple[str, str], None] = {}
    named: list[Item] = []
    for item in items:
        event = item.event
        if isinstance(event, GuardianRegistered):
            registered[event.guardian_id] = NewContact(
                recipient_id=event.guardian_id, role="guardian", locale=event.locale, name=event.name,
                school_id=event.school_id, phone_sealed=event.phone_sealed, phone_masked=event.phone_masked,
                push_token_sealed=event.push_token_sealed, consent=event.consent,
                student_ids=list(dict.fromkeys(event.student_ids)))
            continue
        if isinstance(event, StaffRegistered):
            # Issue 16, R11-R12: a staff member's sealed contact, reached for their duties. The school records
            # it for the job, so no family-style consent is asked (R22's consent is the families').
            registered[event.staff_id] = NewContact(
                recipient_id=event.staff_id, role="staff", locale=event.locale, name=event.name,
                school_id=event.school_id, phone_sealed=event.phone_sealed, phone_masked=event.phone_masked,
                push_token_sealed=event.push_token_sealed, consent=True, student_ids=[])
            staff[event.staff_id] = event
            continue
        if isinstance(event, StaffAdmissionChanged):  # R28: the latest decision by effective time wins
            known_decision = decisions.get(event.staff_id)
            if known_decision is None or known_decision.effective_at <= event.effective_at:
                decisions[event.staff_id] = event
            continue
        if isinstance(event, (ApplicationSubmitted, EnrollmentFiled)):
            known = students.get(event.student_id)
            students[event.student_id] = (event.student_name, event.school_id or (known[1] if known else None))
        if isinstance(event, EnrollmentFiled):
            links[(event.student_id, event.guardian_id)] = None
        named.append(item)
    await uow.write_contacts(list(registered.values()))
    await uow.write_staff([(e.staff_id, e.school_id, e.name, list(e.roles), list(e.class_ids), list(e.programme_ids))
                           for e in staff.values()])
    await uow.decide_staff([(e.staff_id, e.school_id, e.admission, e.effective_at) for e in decisions.values()])
    await uow.remember_students(students)
    await uow.add_links(list(links))
    await notify_named_guardians(uow, named)
    if registered:
        await release_waiting(uow, registered)


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


async def alert_staff(uow: NotificationUoW, about: list[tuple[Envelope, Any]], names: dict[str, str | None],
                      known: Known) -> list[Intent]:
    """The run's safety events to the staff answering for each child, each member once per event, recorded
    with the duty they were told for; one read of the run's schools' reachable staff."""
    alerts = [(envelope, event) for envelope, event in about if envelope.type in TO_STAFF]
    if not alerts:
        return []
    staff = await uow.reachable_staff(sorted({e.school_id for _, e in alerts}),
                                      sorted({e.class_teacher_id for _, e in alerts if getattr(e, "class_teacher_id", None)}))
    names = {**names, **await uow.student_names(sorted({e.student_id for _, e in alerts if not names.get(e.student_id)}))}
    members = [member for member, _, _ in staff]
    reach = {member.staff_id: (contact, pref) for member, contact, pref in staff}
    rows: list[Intent] = []
    for envelope, event in alerts:
        template_name, duties = TO_STAFF[envelope.type]
        told = responsible(duties, members, school_id=event.school_id, programme_id=event.programme_id,
                           class_teacher_id=getattr(event, "class_teacher_id", None))
        if not told:
            log.warning("no reachable staff answers for a safety event",
                        extra={"type": envelope.type, "school_id": event.school_id, "duties": list(duties)})
        params = _staff_params(event, names.get(event.student_id) or "@a_student", known)
        for staff_id, duty in told:
            rows += intents(uow, envelope, found=[reach[staff_id]], template_name=template_name, params=params,
                            student_id=event.student_id, school_id=event.school_id, duty=duty)
    return rows


@batch_handler
async def notify_guardians(uow: NotificationUoW, items: Sequence[Item]) -> None:
    """R11-R13, R22: attendance news about a student reaches each of their guardians, and safety news the
    staff answering for the child (issue 16). A run of the batch's attendance events costs one read of their
    students' guardians (with preferences and names), one of the names of staff and programmes, one of the
    schools' reachable staff when there is a safety event, after the contacts registered earlier in the
    batch are written, and one insert of all their messages."""
    about: list[tuple[Envelope, Any]] = [(item.envelope, item.event) for item in items]  # events with a student_id
    found = await uow.guardians_of_many(sorted({event.student_id for _, event in about}))
    known = await known_for(uow, [event for _, event in about])
    rows: list[Intent] = []
    names: dict[str, str | None] = {}
    for envelope, event in about:
        guardians, name = found.get(event.student_id, ([], None))
        names[event.student_id] = name
        if not guardians:
            # Guardians register before they apply (R6), so this is a student enrolled elsewhere or bad data.
            log.info("no guardian on file for a student; nothing to send",
                     extra={"student_id": event.student_id, "type": envelope.type})
            continue
        template_name, params = ABOUT_STUDENT[envelope.type](event, name or "@your_child", known)
        rows += intents(uow, envelope, found=guardians, template_name=template_name, params=params,
                        student_id=event.student_id, school_id=event.school_id)
    rows += await alert_staff(uow, about, names, known)
    await record(uow, rows)


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


@batch_handler
async def notify_families(uow: NotificationUoW, items: Sequence[Item]) -> None:
    """A message to every guardian at the event's school; each school's guardians read once per run."""
    families: dict[str, Found] = {}
    rows: list[Intent] = []
    published = [item.event for item in items if isinstance(item.event, ProgrammePublished)]
    await uow.remember_programmes({e.programme_id: (e.school_id, e.name) for e in published})
    await uow.remember_schools({e.school_id: e.school_name for e in published if e.school_name})
    known = await uow.known([], [], sorted({item.event.school_id for item in items}))
    portal = getattr(uow, "portal_url", None)
    for item in items:
        school = item.event.school_id
        if school not in families:
            families[school] = await uow.guardians_at(school)
        template_name, params = TO_FAMILIES[item.envelope.type](item.event, known, portal)
        rows += intents(uow, item.envelope, found=families[school], template_name=template_name, params=params,
                        school_id=school)
    await record(uow, rows)


@batch_handler
async def alert_auditors(uow: NotificationUoW, items: Sequence[Item]) -> None:
    """R25: auditors of the district (and city-wide ones) hear of an anomaly; critical ones at any hour.
    Each district's auditors read once per run."""
    auditors: dict[str | None, Found] = {}
    rows: list[Intent] = []
    known = await uow.known([], [], sorted({item.event.school_id for item in items if item.event.school_id}))
    for item in items:
        event: AnomalyDetected = item.event  # type: ignore[assignment]
        if event.district_id not in auditors:
            auditors[event.district_id] = await uow.auditors_for(event.district_id)
        rows += intents(uow, item.envelope, found=auditors[event.district_id], template_name="anomaly_alert",
                        params={"school": school_name(known, event.school_id), "check": f"@{event.check}", "severity": f"@{event.severity}",
                                "detail": event.detail[:200]},
                        student_id=event.student_id, school_id=event.school_id, role="auditor",
                        severity=event.severity)
    await record(uow, rows)


@batch_handler
async def notify_billing(uow: NotificationUoW, items: Sequence[Item]) -> None:
    """R22: fees due, statements, payments received, waivers and refunds reach the guardian each names;
    the students' names are read once per run."""
    await notify_named_guardians(uow, items)


HANDLERS = {
    **dict.fromkeys(["GuardianRegistered", "StaffRegistered", "StaffAdmissionChanged", "ApplicationSubmitted",
                     "ApplicationApproved", "ApplicationWaitlisted", "ApplicationRejected", "EnrollmentFiled",
                     "EnrollmentWithdrawn"], apply_enrollment),
    **dict.fromkeys(ABOUT_STUDENT, notify_guardians),
    **dict.fromkeys(["FeeCharged", "FeeSettled", "PaymentReceived", "FeeWaived", "RefundIssued"], notify_billing),
    **dict.fromkeys(TO_FAMILIES, notify_families),
    "AnomalyDetected": alert_auditors,
}
