"""Times the audit service consuming what the city's setup and evening send it: N EnrollmentFiled, then
N StudentCheckedOut (after the same students' check-ins, untimed), applied through the kit's batch
consumer exactly as the service applies them (decode, inbox, handlers, one transaction per batch) on
a real PostgreSQL database; prints events/s and the consumer's CPU seconds per 1,000 events (this
process only; PostgreSQL's CPU is not counted). Kafka is left out on purpose: the figures are audit's.

    .venv/bin/python -m bench.audit_consume --events 20000
    .venv/bin/python -m bench.audit_consume --events 3000 --batch 6 --kinds checkouts   # the evening's small batches
"""
from __future__ import annotations

import argparse
import asyncio
import json
import time
import uuid
from collections.abc import Callable

from prometheus_client import CollectorRegistry

from bench.ledger_append import drop_database
from local import infra
from services.audit.db import AuditUoW, prepare_writer, writer_url
from services.audit.handlers import DUPLICATE_HANDLERS, HANDLERS
from services.audit.settings import Settings
from shared.contracts.attendance import StudentCheckedIn, StudentCheckedOut
from shared.contracts.enrollment import EnrollmentFiled
from shared.contracts.envelope import Event, new_envelope
from shared.contracts.schema import example_payload
from shared.contracts.topics import ATTENDANCE_EVENTS, ENROLLMENT_EVENTS
from shared.messaging import migrate
from shared.messaging.consumer import BatchConsumer, RawRecord
from shared.messaging.db import Database
from shared.observability import KitMetrics

SCHOOLS = 508
PROGRAMMES_PER_SCHOOL = 4
STAFF_PER_SCHOOL = 20


def _template(cls: type[Event], producer: str) -> dict:
    event = cls.model_validate(example_payload(cls))
    return json.loads(json.dumps(new_envelope(event, producer=producer).model_dump(mode="json")))


def _records(n: int, run: str, topic: str, template: dict, payload: Callable[[int, str, str, str], dict]) -> list[RawRecord]:
    out = []
    for i in range(n):
        school = f"sch-{run}-{i % SCHOOLS:03d}"
        programme = f"prg-{run}-{i % SCHOOLS:03d}-{i // SCHOOLS % PROGRAMMES_PER_SCHOOL}"
        student = f"stu-{run}-{i:07d}"
        env = dict(template, event_id=str(uuid.uuid4()), key=student, correlation_id=f"bench-{run}")
        env["payload"] = dict(template["payload"], school_id=school, programme_id=programme, student_id=student,
                              **payload(i, school, programme, student))
        out.append(RawRecord(topic, i % 6, i // 6, student.encode(),
                             json.dumps(env, ensure_ascii=False, separators=(",", ":")).encode()))
    return out


def filings(n: int, run: str) -> list[RawRecord]:
    """N enrollments filed, as enrollment puts them on enrollment.events during the city's setup."""
    return _records(n, run, ENROLLMENT_EVENTS, _template(EnrollmentFiled, "enrollment"),
                    lambda i, s, p, st: {"enrollment_id": f"enr-{st}", "application_id": f"app-{st}",
                                         "district_id": f"dst-{run}-{i % SCHOOLS // 40:02d}", "hardship": i % 17 == 0})


def checkouts(n: int, run: str) -> list[RawRecord]:
    """N check-outs of one evening, as attendance puts them on attendance.events."""
    return _records(n, run, ATTENDANCE_EVENTS, _template(StudentCheckedOut, "attendance"),
                    lambda i, s, p, st: {"handed_over_by": _staff(i, s), "collected_by_id": f"gdn-{st}"})


def checkins(n: int, run: str) -> list[RawRecord]:
    """The same students' check-ins that afternoon, by the staff who later hand them over."""
    return _records(n, run, ATTENDANCE_EVENTS, _template(StudentCheckedIn, "attendance"),
                    lambda i, s, p, st: {"checked_in_by": _staff(i, s)})


def _staff(i: int, school: str) -> str:
    return f"stf-{school}-{i // SCHOOLS % STAFF_PER_SCHOOL:02d}"


async def _consume(consumer: BatchConsumer, recs: list[RawRecord], batch: int, what: str) -> None:
    wall, cpu = time.perf_counter(), time.process_time()
    for i in range(0, len(recs), batch):
        await consumer.process(recs[i:i + batch])
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    print(f"{what}: {len(recs):,} in {wall:.2f} s = {len(recs) / wall:,.0f} events/s; "
          f"consumer CPU {cpu:.2f} s = {cpu * 1000 / len(recs):.3f} CPU s per 1,000 (batches of {batch})")


async def run(args: argparse.Namespace) -> None:
    settings = Settings(database_url=args.database_url)
    await asyncio.to_thread(migrate.upgrade, "audit", args.database_url, "audit")
    await prepare_writer(settings)
    db = Database(writer_url(settings), "audit")
    consumer = BatchConsumer("audit", HANDLERS, lambda: AuditUoW(db, producer="audit"),
                             KitMetrics(CollectorRegistry()), duplicate_handlers=DUPLICATE_HANDLERS)
    run_id = uuid.uuid4().hex[:6]
    # A short warm-up so that connections, prepared statements and imports are not measured.
    await _consume(consumer, filings(args.batch, "w" + run_id) + checkouts(args.batch, "w" + run_id), args.batch,
                   "warm-up")
    if "filings" in args.kinds:
        await _consume(consumer, filings(args.events, run_id), args.batch, "EnrollmentFiled")
    if "checkouts" in args.kinds:
        # The afternoon's check-ins come first, as in a school day, and are not what is timed.
        await _consume(consumer, checkins(args.events, run_id), 500, "StudentCheckedIn (untimed setup)")
        await _consume(consumer, checkouts(args.events, run_id), args.batch, "StudentCheckedOut")
    await db.dispose()
    if getattr(args, "fresh", False):
        await drop_database(args.database_url)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.audit_consume", description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=20_000, help="events of each type (default 20000)")
    parser.add_argument("--batch", type=int, default=500, help="records per consumed batch (the service's default 500)")
    parser.add_argument("--kinds", default="filings,checkouts", help="which to time: filings, checkouts or both")
    parser.add_argument("--database-url", help="an existing PostgreSQL database (default: a fresh local one)")
    args = parser.parse_args()
    if not args.database_url:
        args.fresh = True
        args.database_url = infra.create_database(infra.postgres().address, f"bench_audit_{uuid.uuid4().hex[:8]}")
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
