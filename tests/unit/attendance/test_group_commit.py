"""Group commit of school systems' batches on a real PostgreSQL schema: concurrent requests judged in one
transaction get exactly the answers they would get one by one, fail alone, and are never lost on
shutdown (R11, R15)."""
from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Sequence

import httpx
import pytest

from services.attendance import handlers as h
from services.attendance.app import build
from services.attendance.db import AttendanceUoW
from services.attendance.domain import Rejection
from services.attendance.settings import Settings
from shared.messaging.db import Database
from tests.tokens import bearer
from tests.unit.attendance.conftest import Clock, School, outbox, unique
from tests.unit.attendance.test_ingest import rec, run


def grouped(uow_factory, policy, *, max_records: int = 100, max_in_flight: int = 2,
            linger: float = 0.0) -> h.GroupCommit:
    async def judge(uow: AttendanceUoW, batch: Sequence[h.Submitted]) -> list:
        return await h.ingest(uow, batch, policy)

    return h.GroupCommit(uow_factory, judge, max_records=max_records, max_in_flight=max_in_flight, linger=linger)


async def evening(school: School, uow_factory, policy) -> list[h.Submitted]:
    """One school's evening as single-record requests, each about a different child, covering every answer
    a check-out or check-in can get; the children were checked in earlier, one by one."""
    s = [await school.enroll(f"{school.school_id}-stu-{i}") for i in range(8)]
    setup = [rec(school, "check_in", student, "15:25") for student in s[:5]]
    for record in setup:
        await run(uow_factory, policy, [record])
    return [
        rec(school, "check_out", s[0], "17:10"),                                           # accepted
        rec(school, "check_out", s[1], "17:11", collected_by_id="stranger-1"),             # refused pickup (R11)
        rec(school, "check_out", s[5], "17:12"),                                           # not checked in
        rec(school, "check_in", f"{school.school_id}-nobody", "15:26"),                    # unknown student
        setup[2],                                                                          # a resend (R15)
        rec(school, "check_in", s[3], "15:40"),                                            # already checked in
        h.Submitted("bad-1", rejection=Rejection("invalid", "at: Field required")),                 # unreadable
        rec(school, "activity", s[6], "16:00"),                                            # accepted
        rec(school, "check_in", s[7], "15:30"),                                            # accepted
        rec(school, "check_out", s[4], "17:20", staff_id="stf-not-admitted"),              # staff not admitted (R28)
        rec(school, "check_out", s[2], "17:13", collected_by_id=f"pku-{s[2]}"),            # accepted, authorised pickup
    ]


def answers(outcomes: Sequence) -> list[tuple[str, str | None]]:
    return [(o.status, o.reason_code) for o in outcomes]


async def event_types(uow_factory, school: School) -> Counter:
    return Counter(e["type"] for e in await outbox(uow_factory, school.school_id))


async def test_concurrent_single_record_requests_get_exactly_the_answers_of_one_by_one_ingestion(uow_factory, policy) -> None:
    one_by_one, together = School(uow_factory), School(uow_factory)
    await one_by_one.publish()
    await together.publish()
    serial = [(await run(uow_factory, policy, [item]))[0] for item in await evening(one_by_one, uow_factory, policy)]
    requests = await evening(together, uow_factory, policy)
    group_commit = grouped(uow_factory, policy)
    concurrent = await asyncio.gather(*(group_commit.submit([item]) for item in requests))
    assert [len(o) for o in concurrent] == [1] * len(requests)
    assert answers(o[0] for o in concurrent) == answers(serial)
    assert ("accepted", None) in answers(serial) and ("rejected", "unauthorised_collector") in answers(serial)
    assert group_commit.groups < len(requests), "the requests queued together were committed together"
    assert (await event_types(uow_factory, together)) == (await event_types(uow_factory, one_by_one))


async def test_a_request_whose_processing_raises_fails_alone_and_the_rest_of_its_group_commits(school, uow_factory, policy) -> None:
    students = [await school.enroll() for _ in range(4)]
    poison = students[2]

    async def judge(uow: AttendanceUoW, batch: Sequence[h.Submitted]) -> list:
        if any(item.record is not None and item.record.student_id == poison for item in batch):
            raise RuntimeError(f"cannot process a record about {poison}")
        return await h.ingest(uow, batch, policy)

    group_commit = h.GroupCommit(uow_factory, judge, max_records=100)
    results = await asyncio.gather(*(group_commit.submit([rec(school, "check_in", s, "15:25")]) for s in students),
                                   return_exceptions=True)
    assert isinstance(results[2], RuntimeError) and poison in str(results[2])
    assert [answers(r) for i, r in enumerate(results) if i != 2] == [[("accepted", None)]] * 3
    checked_in = await outbox(uow_factory, school.school_id, "StudentCheckedIn")
    assert sorted(e["payload"]["student_id"] for e in checked_in) == sorted(s for s in students if s != poison)


async def test_the_same_record_sent_by_two_concurrent_requests_is_accepted_once_and_reported_duplicate_once(
        school, uow_factory, policy) -> None:
    student, other = await school.enroll(), await school.enroll()
    record = rec(school, "check_in", student, "15:25")
    group_commit = grouped(uow_factory, policy)
    first, second = await asyncio.gather(group_commit.submit([record, rec(school, "check_in", other, "15:26")]),
                                         group_commit.submit([record]))
    assert answers(first) == [("accepted", None), ("accepted", None)]
    assert answers(second) == [("duplicate", "already_received")], "not repeated_in_batch: it was another request"
    assert second[0].event_id == first[0].event_id
    checked_in = await outbox(uow_factory, school.school_id, "StudentCheckedIn")
    assert sorted(e["payload"]["student_id"] for e in checked_in) == sorted([student, other])


async def test_a_group_never_holds_more_records_than_the_limit_unless_one_request_alone_does(school, uow_factory, policy) -> None:
    students = [await school.enroll() for _ in range(5)]
    sizes: list[int] = []

    async def judge(uow: AttendanceUoW, batch: Sequence[h.Submitted]) -> list:
        sizes.append(len(batch))
        return await h.ingest(uow, batch, policy)

    group_commit = h.GroupCommit(uow_factory, judge, max_records=2, max_in_flight=1)
    big = [rec(school, "check_in", s, "15:25") for s in students[:3]]
    results = await asyncio.gather(group_commit.submit(big),
                                   *(group_commit.submit([rec(school, "check_in", s, "15:26")]) for s in students[3:]))
    assert [answers(r) for r in results] == [[("accepted", None)] * 3, [("accepted", None)], [("accepted", None)]]
    assert sizes == [3, 2]


async def test_closing_processes_what_is_queued_and_refuses_what_comes_after(school, uow_factory, policy) -> None:
    students = [await school.enroll() for _ in range(3)]
    group_commit = grouped(uow_factory, policy, max_in_flight=1)
    queued = [asyncio.create_task(group_commit.submit([rec(school, "check_in", s, "15:25")])) for s in students]
    await asyncio.sleep(0)  # every request is queued, none is committed yet
    await group_commit.close()
    assert [answers(task.result()) for task in queued] == [[("accepted", None)]] * 3
    with pytest.raises(h.Stopping, match="shutting down"):
        await group_commit.submit([rec(school, "check_in", students[0], "15:30")])


@pytest.fixture
async def service(attendance_db: Database, clock: Clock):
    settings = Settings(database_url=attendance_db.url, database_schema=attendance_db.schema)
    app, rt = build(settings, clock=clock)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://attendance") as client:
        yield client, rt
    await rt.db.dispose()


async def test_concurrent_one_record_posts_each_get_their_own_answer_body_and_correlation_id(service, uow_factory) -> None:
    client, rt = service
    school = School(uow_factory)
    await school.publish()
    students = [await school.enroll() for _ in range(6)]
    auth = bearer(unique('sys'), 'school_system', school_id=school.school_id)

    async def post(student: str, index: int) -> httpx.Response:
        record = {"record_id": f"gate-{student}", "kind": "check_in", "student_id": student,
                  "at": "2025-09-12T15:25:00+08:00", "staff_id": school.staff_id}
        body = {"records": [record] if index % 3 else [record, {"kind": "check_in"}]}
        return await client.post(f"/v1/schools/{school.school_id}/records", json=body,
                                 headers={**auth, "x-correlation-id": f"corr-{student}"})

    replies = await asyncio.gather(*(post(s, i) for i, s in enumerate(students)))
    for index, (student, reply) in enumerate(zip(students, replies)):
        assert reply.status_code == 200
        body = reply.json()
        assert body["results"][0]["record_id"] == f"gate-{student}" and body["results"][0]["status"] == "accepted"
        if index % 3:
            assert (body["received"], body["accepted"], body["rejected"]) == (1, 1, 0)
        else:
            assert (body["received"], body["accepted"], body["rejected"]) == (2, 1, 1)
            assert body["results"][1] == {"index": 1, "record_id": None, "status": "rejected", "reason_code": "invalid",
                                          "reason": body["results"][1]["reason"]}
    events = await outbox(uow_factory, school.school_id, "StudentCheckedIn")
    assert {e["payload"]["student_id"]: e["correlation_id"] for e in events} == {s: f"corr-{s}" for s in students}
    await rt.context.group_commit.close()
    late = await post(students[0], 1)
    assert late.status_code == 503 and "resend" in late.json()["detail"] and late.headers["retry-after"] == "5"


async def test_requests_arriving_within_the_linger_share_one_transaction_and_a_full_group_does_not_wait(
        school, uow_factory, policy) -> None:
    students = [await school.enroll(f"{school.school_id}-ling-{i}") for i in range(6)]
    records = [rec(school, "check_in", student, "15:25") for student in students]
    # Generous linger: the three staggered requests all arrive while the first waits for company.
    group_commit = grouped(uow_factory, policy, linger=0.5)

    async def later(record: h.Submitted, delay: float) -> list:
        await asyncio.sleep(delay)
        return await group_commit.submit([record])

    answered = await asyncio.gather(*(later(r, 0.05 * i) for i, r in enumerate(records[:3])))
    assert [a[0].status for a in answered] == ["accepted"] * 3
    assert group_commit.groups == 1, "one transaction for the three one-record requests"
    # A request that fills the group alone is taken at once, however long the linger.
    full = grouped(uow_factory, policy, max_records=3, linger=3600)
    outcomes = await asyncio.wait_for(full.submit(records[3:]), timeout=60)
    assert [o.status for o in outcomes] == ["accepted"] * 3 and full.groups == 1
