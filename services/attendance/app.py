"""Attendance's composition root: wires settings, the policy (clock, grace, limits), handlers, routes and the
timer sweep worker into one ASGI app."""
from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta

from fastapi import FastAPI
from prometheus_client import Counter, Gauge
from starlette.middleware import Middleware

from services.attendance import api
from services.attendance.db import AttendanceUoW
from services.attendance.domain import Limits
from services.attendance.handlers import GroupCommit, Policy, handler_table, ingest, sweep, utc_now
from services.attendance.settings import Context, Settings
from shared.messaging.runtime import Runtime, build_runtime, create_app
from shared.messaging.workers import Worker

NAME = "attendance"
log = logging.getLogger(__name__)


def policy_from(settings: Settings, clock: Callable[[], datetime] = utc_now) -> Policy:
    return Policy(
        clock=clock,
        limits=Limits(max_age=timedelta(days=settings.ingest_max_age_days),
                      future_tolerance=timedelta(seconds=settings.ingest_future_tolerance_seconds)),
        grace=timedelta(minutes=settings.absence_grace_minutes),
        sweep_batch=settings.sweep_batch,
    )


def build(settings: Settings | None = None, *, clock: Callable[[], datetime] = utc_now) -> tuple[FastAPI, Runtime]:
    settings = settings or Settings()
    rt = build_runtime(NAME, settings, AttendanceUoW)
    conflicts = Counter("beilei_attendance_record_conflicts", "Records answered conflict: a record id resent with "
                        "other content than first received, kept in record_conflicts for review (R15).", registry=rt.registry)
    policy = replace(policy_from(settings, clock), count_conflicts=conflicts.inc)

    async def judge(uow: AttendanceUoW, batch: list) -> list:
        return await ingest(uow, batch, policy)

    group_commit = GroupCommit(rt.uow_factory, judge, max_records=settings.ingest_max_records,
                               max_in_flight=settings.ingest_groups_in_flight, linger=settings.ingest_linger_ms / 1000)
    rt.context = Context(policy=policy, group_commit=group_commit)
    # How well requests coalesce: requests / groups is the number of HTTP batches per ingest transaction.
    Gauge("beilei_attendance_ingest_groups", "Group-committed ingest transactions run (retries included).",
          registry=rt.registry).set_function(lambda: group_commit.groups)
    Gauge("beilei_attendance_ingest_grouped_requests", "HTTP batches processed in those transactions.",
          registry=rt.registry).set_function(lambda: group_commit.requests)
    raised = Counter("beilei_attendance_timer_events", "Events raised by the timer sweep, by rule.", ["rule"],
                     registry=rt.registry)

    async def sweep_round() -> None:
        """R12, R13: time passing is itself an input, so the service looks at the clock periodically.
        Every write is conditional, so a round that failed half-way repeats safely next time."""
        report = await sweep(rt.uow_factory, policy)
        for rule, count in (("absence", report.absent), ("extended_care", report.extended_care),
                            ("escalation", report.escalated)):
            if count:
                raised.labels(rule).inc(count)
                log.info("timer sweep raised events", extra={"rule": rule, "count": count})

    app = create_app(
        rt, handlers=handler_table(policy, rt.authority), routers=api.routers, title="Beilei attendance",
        description="School systems' check-in, check-out and activity records; safe handover, absence, extended care "
                    "and exercise (R8, R11-R15, R27, R28). See docs/attendance.md.",
        workers=[Worker("timer-sweep", step=sweep_round, interval=settings.sweep_interval_seconds)],
        # HTTP batches queued for a group are processed (or answered 503) before the kit closes the database.
        on_stop=[group_commit.close],
    )
    # Innermost of the middlewares, so the kit's correlation id is set before it answers a gate's POST.
    app.user_middleware.append(Middleware(api.RecordsFastPath))
    return app, rt
