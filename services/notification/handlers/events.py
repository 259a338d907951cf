"""Handlers of consumed events: batch handlers that take a run of consumed events and record at most one
message per event and recipient (guardians, and the staff answering for a child's safety) as an intent in
the consumer's transaction (the sender delivers it), with a few set-based statements per run
(R11-R13, R22, R23, R25)."""
from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from services.notification.db import Intent, Known, NewContact, NotificationUoW
from services.notification.domain.policy import responsible
from services.notification.handlers.intents import Delivery, Found, intents, record, release_waiting
from services.notification.handlers.messages import (
    ABOUT_STUDENT,
    TO_FAMILIES,
    TO_GUARDIAN,
    TO_STAFF,
    _staff_params,
    known_for,
    school_name,
)
from shared.contracts.audit import AnomalyDetected
from shared.contracts.enrollment import (
    ApplicationSubmitted,
    EnrollmentFiled,
    GuardianRegistered,
    ProgrammePublished,
    StaffAdmissionChanged,
    StaffRegistered,
)
from shared.contracts.envelope import Envelope
from shared.messaging.consumer import Item

log = logging.getLogger(__name__)


async def notify_named_guardians(uow: NotificationUoW, items: Sequence[Item], delivery: Delivery) -> None:
    """One message per event to the guardian it names: one read of the run's guardians' contacts (with
    preferences), one of the names the events do not carry, one insert. A guardian not known yet gets
    a message that waits for the contact (R22)."""
    if not items:
        return
    now = delivery.clock()
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
        rows += intents(item.envelope, delivery, now, found=[found] if found else [], template_name=template_name, params=params,
                        student_id=event.student_id, school_id=event.school_id,
                        missing=() if found else (event.guardian_id,))
    await record(uow, rows, now)


# -- enrollment.events ----------------------------------------------------------------------------

async def apply_enrollment(uow: NotificationUoW, items: Sequence[Item], delivery: Delivery) -> None:
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
    await notify_named_guardians(uow, named, delivery)
    if registered:
        await release_waiting(uow, registered, delivery, delivery.clock())


async def alert_staff(uow: NotificationUoW, about: list[tuple[Envelope, Any]], names: dict[str, str | None],
                      known: Known, delivery: Delivery, now: datetime) -> list[Intent]:
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
            rows += intents(envelope, delivery, now, found=[reach[staff_id]], template_name=template_name, params=params,
                            student_id=event.student_id, school_id=event.school_id, duty=duty)
    return rows


async def notify_guardians(uow: NotificationUoW, items: Sequence[Item], delivery: Delivery) -> None:
    """R11-R13, R22: attendance news about a student reaches each of their guardians, and safety news the
    staff answering for the child (issue 16). A run of the batch's attendance events costs one read of their
    students' guardians (with preferences and names), one of the names of staff and programmes, one of the
    schools' reachable staff when there is a safety event, after the contacts registered earlier in the
    batch are written, and one insert of all their messages."""
    now = delivery.clock()
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
        rows += intents(envelope, delivery, now, found=guardians, template_name=template_name, params=params,
                        student_id=event.student_id, school_id=event.school_id)
    rows += await alert_staff(uow, about, names, known, delivery, now)
    await record(uow, rows, now)


async def notify_families(uow: NotificationUoW, items: Sequence[Item], delivery: Delivery) -> None:
    """A message to every guardian at the event's school; each school's guardians read once per run."""
    now = delivery.clock()
    families: dict[str, Found] = {}
    rows: list[Intent] = []
    published = [item.event for item in items if isinstance(item.event, ProgrammePublished)]
    await uow.remember_programmes({e.programme_id: (e.school_id, e.name) for e in published})
    await uow.remember_schools({e.school_id: e.school_name for e in published if e.school_name})
    known = await uow.known([], [], sorted({item.event.school_id for item in items}))
    for item in items:
        school = item.event.school_id
        if school not in families:
            families[school] = await uow.guardians_at(school)
        template_name, params = TO_FAMILIES[item.envelope.type](item.event, known, delivery.portal_url)
        rows += intents(item.envelope, delivery, now, found=families[school], template_name=template_name, params=params,
                        school_id=school)
    await record(uow, rows, now)


async def alert_auditors(uow: NotificationUoW, items: Sequence[Item], delivery: Delivery) -> None:
    """R25: auditors of the district (and city-wide ones) hear of an anomaly; critical ones at any hour.
    Each district's auditors read once per run."""
    now = delivery.clock()
    auditors: dict[str | None, Found] = {}
    rows: list[Intent] = []
    known = await uow.known([], [], sorted({item.event.school_id for item in items if item.event.school_id}))
    for item in items:
        event: AnomalyDetected = item.event  # type: ignore[assignment]
        if event.district_id not in auditors:
            auditors[event.district_id] = await uow.auditors_for(event.district_id)
        rows += intents(item.envelope, delivery, now, found=auditors[event.district_id], template_name="anomaly_alert",
                        params={"school": school_name(known, event.school_id), "check": f"@{event.check}", "severity": f"@{event.severity}",
                                "detail": event.detail[:200]},
                        student_id=event.student_id, school_id=event.school_id, role="auditor",
                        severity=event.severity)
    await record(uow, rows, now)


async def notify_billing(uow: NotificationUoW, items: Sequence[Item], delivery: Delivery) -> None:
    """R22: fees due, statements, payments received, waivers and refunds reach the guardian each names;
    the students' names are read once per run."""
    await notify_named_guardians(uow, items, delivery)
