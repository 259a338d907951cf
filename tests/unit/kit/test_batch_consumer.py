"""The batch consumer's guarantees on real PostgreSQL: each event applied once, bad records
dead-lettered with a reason, good records beside them kept, transient failures retried."""
from __future__ import annotations

import base64
import json
import uuid

import pytest
from prometheus_client import CollectorRegistry
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from shared.contracts.enrollment import GuardianRegistered
from shared.contracts.envelope import new_envelope
from shared.contracts.registry import encode
from shared.contracts.topics import ENROLLMENT_EVENTS
from shared.messaging.consumer import BatchConsumer, ConsumerStopping, RawRecord, Rejected, is_transient
from shared.messaging.db import Database
from shared.messaging.uow import UnitOfWork
from shared.observability import KitMetrics


def _guardian_event(i: int) -> GuardianRegistered:
    return GuardianRegistered(guardian_id=f"gdn-{i}", school_id="sch-1", student_ids=[f"stu-{i}"], name="王芳",
                              phone_masked="138****0000", phone_sealed="sealed", consent=True, registered_by="stf-1")


def _record(offset: int, value: bytes, key: bytes = b"k") -> RawRecord:
    return RawRecord(ENROLLMENT_EVENTS, 0, offset, key, value, (("type", b"GuardianRegistered"),))


def _consumer(db: Database, handler, name: str = "tester") -> BatchConsumer:
    return BatchConsumer(name, {"GuardianRegistered": handler},
                         lambda: UnitOfWork(db, producer=name), KitMetrics(CollectorRegistry()),
                         retry_base_seconds=0.01)


async def _outbox(db: Database) -> list:
    async with db.engine.connect() as conn:
        return (await conn.execute(text("select topic, key, value, headers from outbox order by id"))).all()


async def test_each_event_is_applied_once_across_batches_and_within_a_batch(kit_db: Database) -> None:
    applied: list[str] = []

    async def handler(uow, envelope, event):
        applied.append(event.guardian_id)

    consumer = _consumer(kit_db, handler)
    envs = [new_envelope(_guardian_event(i), producer="enrollment") for i in range(3)]
    raw = [encode(e) for e in envs]
    await consumer.process([_record(0, raw[0]), _record(1, raw[1]), _record(2, raw[1])])
    await consumer.process([_record(1, raw[1]), _record(3, raw[2]), _record(0, raw[0])])
    assert applied == ["gdn-0", "gdn-1", "gdn-2"]


async def test_a_malformed_record_is_dead_lettered_with_its_reason_and_original_bytes(kit_db: Database) -> None:
    applied: list[str] = []

    async def handler(uow, envelope, event):
        applied.append(event.guardian_id)

    good = encode(new_envelope(_guardian_event(7), producer="enrollment"))
    await _consumer(kit_db, handler).process([_record(10, b"\xff\xfenot json"), _record(11, good)])
    assert applied == ["gdn-7"]
    (row,) = await _outbox(kit_db)
    assert row.topic == "enrollment.events.dlq"
    body = json.loads(row.value)
    assert body["kind"] == "contract:not_json" and "not UTF-8" in body["reason"]
    assert base64.b64decode(body["original_b64"]) == b"\xff\xfenot json"
    assert (body["topic"], body["partition"], body["offset"], body["consumer"]) == (ENROLLMENT_EVENTS, 0, 10, "tester")


async def test_a_rejected_event_is_dead_lettered_and_its_neighbours_still_apply(kit_db: Database) -> None:
    applied: list[str] = []

    async def handler(uow, envelope, event):
        if event.guardian_id == "gdn-2":
            raise Rejected("unknown student stu-2")
        applied.append(event.guardian_id)

    raw = [encode(new_envelope(_guardian_event(i), producer="enrollment")) for i in range(4)]
    await _consumer(kit_db, handler).process([_record(i, r) for i, r in enumerate(raw)])
    # the batch failed once as a whole, then went record by record
    assert sorted(set(applied)) == ["gdn-0", "gdn-1", "gdn-3"]
    (row,) = await _outbox(kit_db)
    body = json.loads(row.value)
    assert body["kind"] == "rejected" and body["reason"] == "unknown student stu-2" and body["offset"] == 2


async def test_a_handler_that_keeps_failing_is_retried_a_bounded_number_of_times_then_dead_lettered(
    kit_db: Database,
) -> None:
    calls = 0

    async def handler(uow, envelope, event):
        nonlocal calls
        calls += 1
        raise ZeroDivisionError("bug")

    raw = encode(new_envelope(_guardian_event(1), producer="enrollment"))
    await _consumer(kit_db, handler).process([_record(0, raw)])
    assert calls == 1 + 3  # the batch attempt, then max_attempts on its own
    (row,) = await _outbox(kit_db)
    assert json.loads(row.value)["kind"] == "failed"
    async with kit_db.engine.connect() as conn:
        assert (await conn.execute(text("select count(*) from inbox"))).scalar() == 1, "dead-lettered counts as handled"


async def test_a_transient_database_error_is_retried_until_it_succeeds_without_a_dead_letter(kit_db: Database) -> None:
    failures = 2
    applied = []

    async def handler(uow, envelope, event):
        nonlocal failures
        if failures:
            failures -= 1
            raise OperationalError("select 1", {}, ConnectionResetError("connection reset"))
        applied.append(event.guardian_id)

    raw = encode(new_envelope(_guardian_event(5), producer="enrollment"))
    await _consumer(kit_db, handler).process([_record(0, raw)])
    assert applied == ["gdn-5"]
    assert await _outbox(kit_db) == []


async def test_effects_and_outbox_rows_of_a_failed_batch_are_rolled_back(kit_db: Database) -> None:
    async def handler(uow, envelope, event):
        uow.publish(_guardian_event(99))
        if event.guardian_id == "gdn-1":
            raise Rejected("no")

    raw = [encode(new_envelope(_guardian_event(i), producer="enrollment")) for i in range(2)]
    await _consumer(kit_db, handler).process([_record(i, r) for i, r in enumerate(raw)])
    rows = await _outbox(kit_db)
    assert [r.topic for r in rows] == [ENROLLMENT_EVENTS, "enrollment.events.dlq"], "one effect, one dead letter"


async def test_events_of_types_the_service_does_not_handle_are_ignored(kit_db: Database) -> None:
    consumer = BatchConsumer("tester", {}, lambda: UnitOfWork(kit_db, producer="t"), KitMetrics(CollectorRegistry()))
    await consumer.process([_record(0, encode(new_envelope(_guardian_event(1), producer="enrollment")))])
    assert await _outbox(kit_db) == []


@pytest.mark.parametrize(
    ("error", "transient"),
    [
        (ConnectionRefusedError("down"), True),
        (TimeoutError(), True),
        (OperationalError("x", {}, Exception("gone")), True),
        (ValueError("bad data"), False),
        (KeyError("x"), False),
    ],
)
def test_only_infrastructure_failures_count_as_transient(error: BaseException, transient: bool) -> None:
    assert is_transient(error) is transient


async def test_an_event_id_is_claimed_once_per_consumer(kit_db: Database) -> None:
    eid = uuid.uuid4()
    async with UnitOfWork(kit_db, producer="t") as uow:
        assert await uow.claim("a", [eid, eid]) == {eid}
        assert await uow.claim("b", [eid]) == {eid}
        await uow.commit()
    async with UnitOfWork(kit_db, producer="t") as uow:
        assert await uow.claim("a", [eid]) == set()


async def test_what_a_handler_publishes_names_the_consumed_event_as_cause_and_keeps_its_correlation(
    kit_db: Database,
) -> None:
    async def handler(uow, envelope, event):
        uow.publish(_guardian_event(42))

    consumed = new_envelope(_guardian_event(1), producer="enrollment", correlation_id="req-7")
    await _consumer(kit_db, handler).process([_record(0, encode(consumed))])
    (row,) = await _outbox(kit_db)
    published = json.loads(row.value)
    assert published["causation_id"] == str(consumed.event_id)
    assert published["correlation_id"] == "req-7"


async def test_a_record_of_a_type_nobody_here_handles_is_passed_over_unread_by_its_type_header(kit_db: Database) -> None:
    applied: list[str] = []

    async def handler(uow, envelope, event):
        applied.append(event.guardian_id)

    consumer = _consumer(kit_db, handler, name="header-reader")
    other = RawRecord(ENROLLMENT_EVENTS, 0, 20, b"k", b"not even json", (("type", b"ApplicationSubmitted"),))
    handled_but_broken = RawRecord(ENROLLMENT_EVENTS, 0, 21, b"k", b"not even json", (("type", b"GuardianRegistered"),))
    no_header = RawRecord(ENROLLMENT_EVENTS, 0, 22, b"k", b"not even json")
    good = _record(23, encode(new_envelope(_guardian_event(9), producer="enrollment")))
    await consumer.process([other, handled_but_broken, no_header, good])
    assert applied == ["gdn-9"]
    dead = [body["offset"] for row in await _outbox(kit_db) if row.topic.endswith(".dlq")
            and (body := json.loads(row.value))["consumer"] == "header-reader"]
    assert sorted(dead) == [21, 22], "what this consumer would read is still dead-lettered; the other type is not"


class _AsyncpgOnly(UnitOfWork):
    asyncpg_only = True


async def test_a_unit_of_work_on_asyncpg_alone_claims_and_commits_without_a_session(kit_db: Database) -> None:
    applied: list[str] = []
    sessions: list[bool] = []

    async def handler(uow, envelope, event):
        await (await uow.connection()).execute("select 1")
        sessions.append(uow._session is not None)
        applied.append(event.guardian_id)

    consumer = BatchConsumer("asyncpg-only", {"GuardianRegistered": handler},
                             lambda: _AsyncpgOnly(kit_db, producer="asyncpg-only"), KitMetrics(CollectorRegistry()),
                             retry_base_seconds=0.01)
    envs = [new_envelope(_guardian_event(i), producer="enrollment") for i in (30, 31)]
    await consumer.process([_record(30, encode(envs[0])), _record(31, encode(envs[1]))])
    await consumer.process([_record(30, encode(envs[0]))])  # redelivered: claimed in the inbox already
    assert applied == ["gdn-30", "gdn-31"] and sessions == [False, False]


def test_a_lost_connection_reported_by_asyncpg_itself_is_transient() -> None:
    import asyncpg

    assert is_transient(asyncpg.exceptions.ConnectionDoesNotExistError("connection was closed in the middle of operation"))
    assert is_transient(asyncpg.exceptions.CannotConnectNowError("the database system is starting up"))
    assert not is_transient(asyncpg.exceptions.UniqueViolationError("duplicate key"))


async def test_a_stopped_consumer_takes_no_new_batch_and_leaves_it_unacknowledged(kit_db: Database) -> None:
    applied: list[str] = []

    async def handler(uow, envelope, event):
        applied.append(event.guardian_id)

    consumer = _consumer(kit_db, handler)
    consumer.stop()
    with pytest.raises(ConsumerStopping):
        await consumer.process([_record(0, encode(new_envelope(_guardian_event(1), producer="enrollment")))])
    assert applied == []
    async with kit_db.engine.connect() as conn:
        assert (await conn.execute(text("select count(*) from inbox"))).scalar() == 0, "nothing claimed: the next run applies it"


@pytest.mark.parametrize("stops_on_call", [1, 2])  # while the batch fails, or while the record is retried alone
async def test_a_failing_record_is_not_dead_lettered_in_a_hurry_when_the_service_stops(
        kit_db: Database, stops_on_call: int) -> None:
    """Stopping cuts the pauses between attempts short; the record is left for the next run, which retries
    it with its pauses, rather than dead-lettered after attempts made back to back."""
    consumer: BatchConsumer
    calls = 0

    async def handler(uow, envelope, event):
        nonlocal calls
        calls += 1
        if calls == stops_on_call:
            consumer.stop()  # SIGTERM arrives while this record fails
        raise ZeroDivisionError("bug")

    consumer = _consumer(kit_db, handler)
    with pytest.raises(ConsumerStopping):
        await consumer.process([_record(0, encode(new_envelope(_guardian_event(1), producer="enrollment")))])
    assert calls == stops_on_call, "no attempt after the stop"
    assert await _outbox(kit_db) == [], "no dead letter"
