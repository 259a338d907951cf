"""School systems' records (R15), over HTTP or the attendance.ingest topic: judged per record, applied per
batch in one transaction, each accepted record published once as an attendance event (R11, R14)."""
from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from services.attendance.db import AttendanceUoW, Judging, Seen
from services.attendance.domain import (
    Activity,
    CheckIn,
    CheckOut,
    DayState,
    Decision,
    Duplicate,
    Enrollment,
    Outcome,
    Record,
    Refusal,
    Rejection,
    apply,
    decide,
    resolve_enrollment,
    screen,
    submission_refusal,
)
from services.attendance.handlers.policy import Policy
from services.attendance.handlers.record_tokens import AUTH_HEADER, RecordTokens
from shared.auth import TokenVerifier
from shared.contracts.attendance import ActivityRecorded, StudentCheckedIn, StudentCheckedOut, UnauthorisedPickupRefused
from shared.contracts.envelope import Event
from shared.contracts.ingest import SchoolActivityRecorded, SchoolCheckInRecorded, SchoolCheckOutRecorded
from shared.contracts.registry import encode
from shared.contracts.topics import ATTENDANCE_INGEST, dlq
from shared.ids import StableIds
from shared.messaging.consumer import Item, RawRecord, batch_handler, dlq_record
from shared.privacy import redact

# Event ids derive from the school's record id, so the same record can never become two events, even
# if the dedupe table were bypassed; downstream inboxes then drop the copy.
EVENT_NAMESPACE = uuid.UUID("6f1d2a4e-3b7c-5e8f-9a0b-1c2d3e4f5a6b")
EVENT_IDS = StableIds(EVENT_NAMESPACE)


def event_id_for(school_id: str, record_id: str) -> uuid.UUID:
    return EVENT_IDS(f"record/{school_id}/{record_id}")


@dataclass(frozen=True)
class Submitted:
    """One record of a batch as submitted: parsed into a Record, or already rejected for its shape."""

    record_id: str | None
    record: Record | None = None
    rejection: Rejection | None = None
    correlation_id: str | None = None
    causation_id: uuid.UUID | None = None


@dataclass
class _Pending:
    index: int
    item: Submitted
    record: Record
    decision: Decision | None = None


async def ingest(uow: AttendanceUoW, batch: Sequence[Submitted], policy: Policy, *,
                 correlation_id: str | None = None) -> list[Outcome]:
    """Judge and apply a batch; returns one outcome per submitted record, in order. The caller commits.

    A rejected record never takes the good records beside it down: rejections are per record, and
    nothing is written for them. A record id received before, or earlier in the batch, with other content
    is a conflict: not applied, and kept for review with both contents."""
    now = policy.clock()
    outcomes: list[Outcome | None] = [None] * len(batch)
    pending: list[_Pending] = []
    first_seen: dict[tuple[str, str], Record] = {}
    repeats: list[tuple[int, Record]] = []
    conflicts: list[tuple] = []
    for index, item in enumerate(batch):
        if item.record is None:
            rejection = item.rejection or Rejection("invalid", "the record could not be read")
            outcomes[index] = Outcome("rejected", rejection.code, rejection.reason)
            continue
        rejection = screen(item.record, now, policy.limits)
        if rejection is not None:
            outcomes[index] = Outcome("rejected", rejection.code, rejection.reason)
            continue
        key = (item.record.school_id, item.record.record_id)
        if key in first_seen:
            repeats.append((index, item.record))
            continue
        first_seen[key] = item.record
        pending.append(_Pending(index, item, item.record))

    if pending:
        await uow.lock_schools(p.record.school_id for p in pending)
        context = await uow.judging((p.record.school_id, p.record.student_id, p.record.session_date, p.record.record_id)
                                    for p in pending)
        _judge_repeats(context, first_seen, repeats, outcomes, conflicts, now)
        pending = _drop_seen(context, pending, outcomes, conflicts)
    if pending:
        _judge(context, pending)
        await _write(uow, pending, outcomes, now, correlation_id)
    if conflicts:
        await uow.keep_conflicts(conflicts)
        policy.count_conflicts(len(conflicts))
    assert all(o is not None for o in outcomes)
    return outcomes  # type: ignore[return-value]


def _judge_repeats(context: Judging, first_seen: dict[tuple[str, str], Record], repeats: list[tuple[int, Record]],
                   outcomes: list[Outcome | None], conflicts: list[tuple], now: datetime) -> None:
    """A record id again in the same batch is measured against its first content: what took effect before,
    if it did, else the batch's earlier record of that id. Same content: a duplicate; other: a conflict."""
    for index, record in repeats:
        key = (record.school_id, record.record_id)
        before = context.seen.get(key)
        if before is not None and before.content is not None:
            first, first_at, when = before.content, before.received_at, _when(before)
        else:
            first, first_at, when = first_seen[key].claim, now, "earlier in this batch"
        claim = record.claim
        differs = _differing(first, claim)
        if differs:
            outcomes[index] = _conflict(record, differs, when, str(before.event_id) if before else None)
            conflicts.append(_kept(record, first, first_at, claim))
        else:
            outcomes[index] = Outcome("duplicate", "repeated_in_batch", f"record {record.record_id} appears earlier in this batch")


def _drop_seen(context: Judging, pending: list[_Pending], outcomes: list[Outcome | None],
               conflicts: list[tuple]) -> list[_Pending]:
    """Records that already took effect change nothing (R15): the same content again is a duplicate; other
    content under the same id is a conflict, kept for review in `conflicts`."""
    fresh: list[_Pending] = []
    for p in pending:
        before = context.seen.get((p.record.school_id, p.record.record_id))
        if before is None:
            fresh.append(p)
            continue
        claim = p.record.claim
        differs = [] if before.content is None else _differing(before.content, claim)
        if differs:
            outcomes[p.index] = _conflict(p.record, differs, _when(before), str(before.event_id))
            conflicts.append(_kept(p.record, before.content, before.received_at, claim))
            continue
        note = f" (it was {before.status}: {before.reason_code})" if before.reason_code else ""
        outcomes[p.index] = Outcome("duplicate", "already_received",
                                    f"record {p.record.record_id} was already received{note}", str(before.event_id))
    return fresh


def _differing(first: dict, again: dict) -> list[str]:
    """The claimed fields in which a resend differs from the first record of its id."""
    return sorted(name for name in first.keys() | again.keys() if first.get(name) != again.get(name))


def _when(before: Seen) -> str:
    return f"at {before.received_at.isoformat()}" if before.received_at else "before"


def _conflict(record: Record, fields: list[str], when: str, event_id: str | None = None) -> Outcome:
    return Outcome(
        "conflict", "content_differs",
        f"record {record.record_id} was received {when} with other content ({', '.join(fields)} differ); this one was"
        " not applied and is kept for review: send a correction under a new record id (R15)",
        event_id,
    )


def _kept(record: Record, first: dict, first_at: datetime | None, claim: dict) -> tuple:
    """A row of record_conflicts: both contents as JSON text, and when the first was received."""
    return (record.school_id, record.record_id, record.student_id, json.dumps(first, ensure_ascii=False, sort_keys=True),
            first_at, json.dumps(claim, ensure_ascii=False, sort_keys=True))


def _judge(context: Judging, pending: list[_Pending]) -> None:
    enrollments, guardian_names, schedules, states = context.enrollments, context.guardian_names, context.schedules, context.days
    by_student: dict[tuple[str, str], list[Enrollment]] = {}
    for e in enrollments:
        by_student.setdefault((e.school_id, e.student_id), []).append(e)
    resolved = {}
    for p in pending:
        r = p.record
        resolved[p.index] = resolve_enrollment(r.school_id, r.student_id, r.programme_id, r.session_date,
                                              by_student.get((r.school_id, r.student_id), []), schedules)
    # Time order, so a check-out listed before its check-in, or arriving in the same batch, is judged right.
    for p in sorted(pending, key=lambda p: p.record.order):
        res = resolved[p.index]
        if isinstance(res, Rejection):
            p.decision = res
            continue
        enrollment, schedule, window = res
        state = states.setdefault((p.record.student_id, enrollment.programme_id, p.record.session_date), DayState())
        p.decision = decide(p.record, enrollment, schedule, window, state, guardian_names)
        apply(p.decision, state)


async def _write(uow: AttendanceUoW, pending: list[_Pending], outcomes: list[Outcome | None], now: datetime,
                 correlation_id: str | None) -> None:
    effective = [p for p in pending if isinstance(p.decision, (CheckIn, CheckOut, Refusal, Activity))]
    claimed = await uow.claim_records([
        (p.record.school_id, p.record.record_id, p.record.kind, p.record.student_id, p.record.session_date,
         "refused" if isinstance(p.decision, Refusal) else "accepted",
         "unauthorised_collector" if isinstance(p.decision, Refusal) else None,
         event_id_for(p.record.school_id, p.record.record_id), json.dumps(p.record.claim, ensure_ascii=False))
        for p in effective
    ])
    check_ins, check_outs, activities = [], [], []
    for p in pending:
        d, r = p.decision, p.record
        if isinstance(d, (Rejection, Duplicate)):
            outcomes[p.index] = Outcome("rejected" if isinstance(d, Rejection) else "duplicate", d.code, d.reason)
            continue
        if (r.school_id, r.record_id) not in claimed:
            # Only if another transaction took the record id between our read and write.
            outcomes[p.index] = Outcome("duplicate", "already_received", f"record {r.record_id} was already received")
            continue
        event_id = event_id_for(r.school_id, r.record_id)
        programme_id = d.enrollment.programme_id  # type: ignore[union-attr]
        if isinstance(d, CheckIn):
            check_ins.append((r.student_id, programme_id, r.session_date, r.school_id, r.at, r.staff_id))
        elif isinstance(d, CheckOut):
            check_outs.append((r.student_id, programme_id, r.session_date, r.at, r.staff_id, r.collected_by_id,
                               d.collector_name, d.relation, d.extended_care_minutes))
        elif isinstance(d, Activity):
            activities.append((r.school_id, r.record_id, r.student_id, programme_id, r.session_date, r.activity_id, r.tier,
                               r.at, r.minutes, r.exercise_minutes, r.staff_id))
        uow.publish(_event(d, now), event_id=event_id, correlation_id=p.item.correlation_id or correlation_id,
                    causation_id=p.item.causation_id)
        if isinstance(d, Refusal):
            outcomes[p.index] = Outcome(
                "rejected", "unauthorised_collector",
                f"{r.collected_by_id} is not a guardian or authorised pickup person of student {r.student_id} ({d.reason});"
                " the child was not released, and the guardians and the school were alerted (R11)",
                str(event_id),
            )
        else:
            outcomes[p.index] = Outcome("accepted", event_id=str(event_id))
    await uow.save_check_ins(check_ins)
    await uow.save_check_outs(check_outs)
    await uow.save_activities(activities)


def _event(decision: CheckIn | CheckOut | Refusal | Activity, now: datetime) -> Event:
    r, e = decision.record, decision.enrollment
    common = dict(student_id=r.student_id, school_id=r.school_id, programme_id=e.programme_id, session_date=r.session_date)
    if isinstance(decision, CheckIn):
        return StudentCheckedIn(**common, checked_in_at=r.at, checked_in_by=r.staff_id, checked_in_by_role=r.staff_role,
                                source="school_system", source_record_id=r.record_id)
    if isinstance(decision, CheckOut):
        return StudentCheckedOut(
            **common, checked_out_at=r.at, handed_over_by=r.staff_id, handed_over_by_role=r.staff_role,
            collected_by_id=r.collected_by_id, collected_by_name=decision.collector_name,
            collected_by_relation=decision.relation, extended_care=decision.extended_care_minutes > 0,
            extended_care_minutes=decision.extended_care_minutes, source="school_system", source_record_id=r.record_id,
        )
    if isinstance(decision, Refusal):
        return UnauthorisedPickupRefused(
            **common, reason=decision.reason, claimant_name=r.collected_by_name, claimant_id=r.collected_by_id,
            note=f"school system {r.system_id} record {r.record_id}", refused_by=r.staff_id, refused_by_role=r.staff_role,
            refused_at=r.at,
        )
    return ActivityRecorded(
        **common, activity_id=r.activity_id, tier=r.tier, started_at=r.at, minutes=r.minutes,
        exercise_minutes=r.exercise_minutes, recorded_by=r.staff_id, recorded_by_role=r.staff_role, recorded_at=now,
        source="school_system", source_record_id=r.record_id,
    )


# -- the attendance.ingest topic ------------------------------------------------------------------------
IngestEvent = SchoolCheckInRecorded | SchoolCheckOutRecorded | SchoolActivityRecorded


def record_from_topic(event: IngestEvent) -> Record:
    common = dict(record_id=event.record_id, school_id=event.school_id, student_id=event.student_id,
                  session_date=event.session_date, programme_id=event.programme_id, system_id=event.system_id)
    if isinstance(event, SchoolCheckInRecorded):
        return Record(kind="check_in", at=event.checked_in_at, staff_id=event.checked_in_by,
                      staff_role=event.checked_in_by_role, **common)
    if isinstance(event, SchoolCheckOutRecorded):
        return Record(kind="check_out", at=event.checked_out_at, staff_id=event.handed_over_by,
                      staff_role=event.handed_over_by_role, collected_by_id=event.collected_by_id,
                      collected_by_name=event.collected_by_name, **common)
    return Record(kind="activity", at=event.started_at, staff_id=event.recorded_by, staff_role=event.recorded_by_role,
                  activity_id=event.activity_id, tier=event.tier, minutes=event.minutes,
                  exercise_minutes=event.exercise_minutes, **common)


def topic_ingest_handler(policy: Policy, authority: TokenVerifier | None):
    """The handler of SchoolCheckInRecorded / SchoolCheckOutRecorded / SchoolActivityRecorded: a run of
    consumed records is judged together, like an HTTP batch; a rejected one goes to the DLQ.

    Each record must carry its school system's token (header `authorization: Bearer <jwt>`), and the HTTP
    route's rule decides whether that principal may speak for the record's school (R15, R27): a record
    without one, with a bad or lapsed one, or signed for another school is refused alone (DLQ kind
    `unauthorised`), and the records beside it are judged as if it had not been sent."""

    @batch_handler
    async def ingest_school_records(uow: AttendanceUoW, items: Sequence[Item]) -> None:
        tokens = RecordTokens(authority, policy.clock(), policy.record_token_skew)
        admitted: list[Item] = []
        for item in items:
            signer = tokens.signer(item.header(AUTH_HEADER), item.timestamp_ms)
            refusal = signer if isinstance(signer, str) else submission_refusal(
                signer.role, signer.school_id, item.event.school_id)
            if refusal is None:
                admitted.append(item)
            else:
                _dead_letter(uow, item, Outcome("rejected", "unauthorised", refusal))
        batch = [Submitted(item.event.record_id, record_from_topic(item.event), correlation_id=item.envelope.correlation_id,
                           causation_id=item.envelope.event_id) for item in admitted]
        outcomes = await ingest(uow, batch, policy) if batch else []
        for item, outcome in zip(admitted, outcomes):
            if outcome.status == "conflict" or (outcome.status == "rejected" and outcome.reason_code != "unauthorised_collector"):
                _dead_letter(uow, item, outcome)

    return ingest_school_records


def _dead_letter(uow: AttendanceUoW, item: Item, outcome: Outcome) -> None:
    """A topic has nobody to answer, so a rejected, unauthorised or conflicting record goes to
    attendance.ingest.dlq with its reason and its bytes (masked where they hold a phone or ID number, see
    dlq_record), like any record that can never be processed; its
    partition is not blocked. The reason and key echo what the school system sent (a phone number typed as a
    student id), so they are redacted like every rejection (issue 15), here for the DLQ record's own key and
    headers, and by dlq_record for its body, which also keeps the record's token without its signature."""
    reason = redact(f"{outcome.reason_code}: {outcome.reason}")
    kind = "conflict" if outcome.status == "conflict" else "unauthorised" if outcome.reason_code == "unauthorised" else "rejected"
    key = redact(item.envelope.key)
    raw = RawRecord(ATTENDANCE_INGEST, -1, -1, key.encode(), encode(item.envelope), item.headers, item.timestamp_ms)
    uow.publish_raw(dlq(ATTENDANCE_INGEST), key,
                    dlq_record(raw, consumer="attendance", kind=kind, reason=reason),
                    {"reason": reason[:200], "kind": kind, "consumer": "attendance", "dlq_id": str(uuid.uuid4())})
