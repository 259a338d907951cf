"""A record on attendance.ingest is taken only as its school's own system's (R15, R27, issue 15): the token in
its `authorization` header is verified, judged at the time the record was written, and held to the rule the
HTTP batch route applies. Through the kit's real batch consumer on a real PostgreSQL schema."""
from __future__ import annotations

import base64
import json

from prometheus_client import CollectorRegistry
from sqlalchemy import text

from services.attendance import handlers as h
from services.attendance.domain import submission_refusal
from shared.auth import TokenVerifier
from shared.contracts.ingest import SchoolCheckInRecorded
from shared.contracts.topics import ATTENDANCE_INGEST
from shared.messaging.consumer import BatchConsumer, RawRecord, dlq_record, withhold_credential
from shared.observability import KitMetrics
from tests.tokens import ISSUER, mint
from tests.unit.attendance.conftest import dead_letters, local, outbox, unique
from tests.unit.attendance.test_topic_ingest import common, raw, reader


def check_in(school, student: str, **changes) -> SchoolCheckInRecorded:
    return SchoolCheckInRecorded(**common(school, student), checked_in_at=local("15:25"), checked_in_by=school.staff_id,
                                 checked_in_by_role="school_staff").model_copy(update=changes)


def ms(when) -> int:
    return int(when.timestamp() * 1000)


def test_only_a_school_system_of_the_records_own_school_may_submit_it() -> None:
    assert submission_refusal("school_system", "sch-1", "sch-1") is None
    assert submission_refusal("school_system", "sch-2", "sch-1") == "this school system is authorised for school sch-2, not sch-1"
    assert submission_refusal("school", "sch-1", "sch-1") == "role 'school' may not post records; a school_system token is needed"
    assert submission_refusal("school_system", None, "sch-1") is not None


async def test_records_not_signed_by_their_own_schools_system_are_refused_alone_and_their_neighbours_applied(
        school, uow_factory, policy) -> None:
    consumer = reader(policy, uow_factory)
    own, other, bare, forged, staff = [await school.enroll() for _ in range(5)]
    elsewhere = mint("sys-elsewhere", "school_system", school_id="sch-elsewhere")
    valid = mint(f"sys-{school.school_id}", "school_system", school_id=school.school_id)
    batch = [
        raw(check_in(school, own), 1),
        raw(check_in(school, other), 2, token=elsewhere),
        raw(check_in(school, bare), 3, token=None),
        raw(check_in(school, forged), 4, token=valid[:-4] + ("AAAA" if not valid.endswith("AAAA") else "BBBB")),
        raw(check_in(school, staff), 5, token=mint("head", "school", school_id=school.school_id)),
    ]
    await consumer.process(batch)
    await consumer.process(batch)  # redelivered: nothing twice

    events = await outbox(uow_factory, school.school_id, "StudentCheckedIn")
    assert [e["payload"]["student_id"] for e in events] == [own]
    dead = {d["key"]: d for d in await dead_letters(uow_factory, {other, bare, forged, staff})}
    assert {k: (d["kind"], d["reason"].split(":")[0]) for k, d in dead.items()} == {
        s: ("unauthorised", "unauthorised") for s in (other, bare, forged, staff)}
    assert f"authorised for school sch-elsewhere, not {school.school_id}" in dead[other]["reason"]
    assert "no 'authorization: Bearer <token>' header" in dead[bare]["reason"]
    assert "bad token signature" in dead[forged]["reason"]
    assert "role 'school' may not post records" in dead[staff]["reason"]
    assert len(await dead_letters(uow_factory, {other, bare, forged, staff})) == 4


async def test_a_token_expired_by_the_time_the_record_is_read_counts_if_it_was_valid_when_written(
        school, uow_factory, policy) -> None:
    # A consumer catching up after an outage reads records whose token has lapsed since; the backlog counts.
    # Tokens issued at 15:00 school-local for an hour, so long expired on the real clock.
    consumer = reader(policy, uow_factory)
    token = ISSUER.mint(f"sys-{school.school_id}", "school_system", school_id=school.school_id, ttl_seconds=3600,
                        now=local("15:00").timestamp())
    in_time, too_late, too_early = [await school.enroll() for _ in range(3)]
    await consumer.process([
        raw(check_in(school, in_time), 1, token=token, written_ms=ms(local("15:26"))),
        raw(check_in(school, too_late), 2, token=token, written_ms=ms(local("16:10"))),
        raw(check_in(school, too_early), 3, token=token, written_ms=ms(local("14:50"))),
    ])
    events = await outbox(uow_factory, school.school_id, "StudentCheckedIn")
    assert [e["payload"]["student_id"] for e in events] == [in_time]
    dead = {d["key"]: d["reason"] for d in await dead_letters(uow_factory, {too_late, too_early})}
    assert "before the record was written" in dead[too_late] and "token expired at" in dead[too_late]
    assert "after the record was written" in dead[too_early]


async def test_within_the_allowed_clock_skew_a_lapsed_token_still_signs_and_its_signature_is_checked_once_per_batch(
        school, uow_factory, policy) -> None:
    checks = []

    class Counting(TokenVerifier):
        def _check(self, token, now):
            checks.append(now)
            return super()._check(token, now)

    consumer = BatchConsumer("attendance", h.handler_table(policy, Counting(ISSUER.jwks())), uow_factory,
                             KitMetrics(CollectorRegistry()))
    token = ISSUER.mint(f"sys-{school.school_id}", "school_system", school_id=school.school_id, ttl_seconds=3600,
                        now=local("15:00").timestamp())
    students = [await school.enroll() for _ in range(5)]
    # Expired at 16:00 (30 s leeway); written four minutes later, inside the five minutes' skew.
    await consumer.process([raw(check_in(school, s), i, token=token, written_ms=ms(local("16:04"))) for i, s in enumerate(students)])
    events = await outbox(uow_factory, school.school_id, "StudentCheckedIn")
    assert sorted(e["payload"]["student_id"] for e in events) == sorted(students)
    # Once on the clock (expired now), once as of the records: not once per record.
    assert len(checks) == 2 and checks[0] is None


async def test_a_dead_letter_keeps_no_usable_token_and_no_phone_number_in_its_reason_key_or_headers(
        school, uow_factory, policy) -> None:
    consumer = reader(policy, uow_factory)
    phone = "13812345678"
    token = mint("sys-elsewhere", "school_system", school_id="sch-elsewhere")
    record = check_in(school, phone, record_id=unique("gate"))
    await consumer.process([raw(record, 1, token=token)])
    (dead,) = await dead_letters(uow_factory, {"138****5678"})
    assert dead["kind"] == "unauthorised"
    body = json.dumps(dead, ensure_ascii=False)
    assert phone not in body.replace(dead["original_b64"], "")
    header = dead["original_headers"]["authorization"]
    assert header.endswith(".[signature withheld]") and token not in body
    assert header.removeprefix("Bearer ").removesuffix(".[signature withheld]") == token.rpartition(".")[0]
    # The original is kept masked too (docs/security.md §6): a record that could never be processed is resent
    # corrected by its sender, not replayed as it was.
    assert json.loads(base64.b64decode(dead["original_b64"]))["payload"]["student_id"] == "138****5678"
    assert dead["original_redacted"] is True and phone not in body
    # Signed by its own school, the record is judged, and its reason names the student it does not know.
    other_phone = "13987654321"
    await consumer.process([raw(check_in(school, other_phone, record_id=unique("gate")), 2)])
    async with uow_factory() as uow:
        (row,) = (await uow.session.execute(text(
            "select headers from outbox where topic like '%.dlq' and key = '139****4321'"))).all()
    assert row.headers["reason"].startswith("unknown_student:") and "139****4321" in row.headers["reason"]
    assert other_phone not in json.dumps(row.headers)


def test_any_dead_letter_of_a_signed_record_keeps_its_token_without_the_signature() -> None:
    # The kit's own dead letters too (a record that is not even an envelope), not only attendance's refusals.
    token = mint("sys-x", "school_system", school_id="sch-x")
    record = RawRecord(ATTENDANCE_INGEST, 3, 7, b"k", b"not json", (("authorization", f"Bearer {token}".encode()),
                                                                  ("type", b"SchoolCheckInRecorded")))
    letter = json.loads(dlq_record(record, consumer="attendance", kind="contract:not_json", reason="not json"))
    assert letter["original_headers"] == {"authorization": f"Bearer {token.rpartition('.')[0]}.[signature withheld]",
                                          "type": "SchoolCheckInRecorded"}
    assert withhold_credential("Authorization", "Bearer not-a-jwt") == "[withheld]"
