"""The delivery loop: claims due messages, opens the contact at send time, hands each message to its
channel within the providers' limits, and records the outcome with its receipt (NotificationSent /
NotificationFailed). Provider calls happen outside any database transaction, so the guarantee of
exactly one message per event and recipient rests on claims with a lease, the provider's own
idempotency (JPush cid) or a look-up by our out-id (Aliyun OutId, Tencent SessionContext) before a
message in doubt is sent again; see docs/notification.md."""
from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date, datetime

from prometheus_client import CollectorRegistry, Counter, Histogram

from services.notification.channels.base import Channel, Outgoing, Result, failure
from services.notification.db import Claimed, SenderUoW
from services.notification.domain.policy import Decision, Retry, actor_role, addressed_as, decide
from services.notification.domain.ratelimit import under_daily_limit
from services.notification.domain.templates import values
from services.notification.handlers import EVENT_IDS
from shared.contracts.notification import (
    KINDS_V1,
    NotificationFailed,
    NotificationFailedV2,
    NotificationSent,
    NotificationSentV2,
)
from shared.privacy import Sealer
from shared.time import local_day, utc_now

log = logging.getLogger(__name__)


class NotificationMetrics:
    """No phone number, token or recipient id is ever a label (R22 privacy)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.attempts = Counter("beilei_notification_attempts", "Hand-overs to a channel, by outcome.",
                                ["channel", "provider", "outcome"], registry=registry)
        self.in_doubt = Counter("beilei_notification_in_doubt", "Messages whose earlier send may have arrived, by "
                                "how it was settled (found at the provider, or sent again).",
                                ["provider", "settled"], registry=registry)
        self.provider_seconds = Histogram("beilei_notification_provider_seconds", "Provider call time.", ["provider"],
                                          buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10), registry=registry)
        self.handover_seconds = Histogram(
            "beilei_notification_handover_seconds", "From the causing event's time to the hand-over to the channel.",
            ["kind"], buckets=(0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300, 3600), registry=registry)
        self.rate_wait_seconds = Counter("beilei_notification_rate_limit_wait_seconds",
                                         "Time spent waiting for a provider's per-second limit.", ["provider"],
                                         registry=registry)


@dataclass
class SenderConfig:
    batch_size: int = 1000
    concurrency: int = 64
    lease_seconds: float = 15.0
    poll_seconds: float = 0.5
    loops: int = 2
    retry: Retry = field(default_factory=Retry)


@dataclass
class _Lease:
    done: asyncio.Event = field(default_factory=asyncio.Event)
    lost: bool = False


@dataclass
class _Job:
    row: Claimed
    channel: Channel | None
    outgoing: Outgoing | None
    result: Result | None = None


class Sender:
    """One per process; several replicas share the work through SKIP LOCKED claims."""

    def __init__(self, uow_factory: Callable[[], SenderUoW], channels: dict[str, Channel], sealer: Sealer,
                 config: SenderConfig, metrics: NotificationMetrics, *,
                 clock: Callable[[], datetime] = utc_now) -> None:
        self.uow_factory = uow_factory
        self.clock = clock  # the one time source of a round: the day's SMS counts, claims, receipts
        self.channels = channels
        self.sealer = sealer
        self.config = config
        self.metrics = metrics
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()
        self._tasks: list[asyncio.Task] = []
        self.sent_total = 0

    def wake(self) -> None:
        self._wake.set()

    async def start(self) -> None:
        # Several loops overlap one round's database work with another's provider calls; SKIP LOCKED
        # claims keep them (and other replicas) from taking the same message.
        self._tasks = [asyncio.create_task(self._run(), name=f"notification-sender-{i}")
                       for i in range(self.config.loops)]

    async def stop(self, drain_seconds: float = 20.0) -> None:
        """Finish the rounds in flight (their sends and their marks), then stop."""
        self._stopping.set()
        self._wake.set()
        if self._tasks:
            done, pending = await asyncio.wait(self._tasks, timeout=drain_seconds)
            for task in pending:
                task.cancel()

    async def _run(self) -> None:
        backoff = 0.5
        while not self._stopping.is_set():
            # Cleared before the claim, not after the round: a wake-up while this round sends (the consumer
            # recorded more) then starts the next round at once instead of waiting for the poll.
            self._wake.clear()
            try:
                handled = await self.run_once()
                backoff = 0.5
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("sender round failed; retrying", extra={"retry_in_s": backoff})
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 10.0)
                continue
            if handled >= self.config.batch_size:
                continue
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.config.poll_seconds)

    # -- one round ----------------------------------------------------------------------------------
    async def run_once(self) -> int:
        """Claim, send, mark. Returns how many messages were claimed."""
        token = uuid.uuid4()
        today = local_day(self.clock())
        async with self.uow_factory() as uow:
            # One statement claims the messages with their recipients' addresses and today's SMS counts.
            rows = await uow.claim(self.config.batch_size, self.config.lease_seconds, token, today)
            await uow.commit()
        if not rows:
            return 0
        lease = _Lease()
        holding = asyncio.create_task(self._hold(token, [r.id for r in rows], lease), name="notification-lease")
        try:
            jobs = [self._job(row) for row in rows]
            calls = await self._prepare(token, jobs)
            sem = asyncio.Semaphore(self.config.concurrency)

            async def run(call: list[_Job]) -> None:
                async with sem:
                    if lease.lost:  # not started: another process may take these over once the lease runs out
                        results = [failure("retry", "other", "the claim's lease could not be renewed")] * len(call)
                    else:
                        results = await self._hand_over(call)
                for job, result in zip(call, results):
                    job.result = result

            grouped = {id(job) for call in calls for job in call}
            calls += [[job] for job in jobs if job.result is None and id(job) not in grouped]
            await asyncio.gather(*(run(call) for call in calls))
            await self._mark(token, jobs, today)
        finally:
            lease.done.set()
            await holding
        return len(rows)

    async def _hold(self, token: uuid.UUID, ids: list[int], lease: _Lease) -> None:
        """Renew the round's lease every third of it until the round is marked, so a short lease (a dead
        process's messages are taken over soon) still covers a long round. Once a renewal fails no new
        provider call starts; the calls in flight end within the provider timeout (at most a third of the
        lease), before the lease runs out and another process may look them up and take them over."""
        every = self.config.lease_seconds / 3
        while not lease.done.is_set():
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(lease.done.wait(), every)
                return
            try:
                async with self.uow_factory() as uow:
                    await uow.renew(token, ids, self.config.lease_seconds)
                    await uow.commit()
            except Exception:
                log.exception("cannot renew the sender's lease; no new provider call starts in this round")
                lease.lost = True
                return

    def _job(self, row: Claimed) -> _Job:
        channel = self.channels.get(row.channel)
        if channel is None:
            return _Job(row, None, None, failure("rejected", "provider_rejected", f"no {row.channel} channel configured"))
        sealed = row.push_token_sealed if row.channel == "push" else row.phone_sealed
        if not sealed:
            code = "push_token_expired" if row.channel == "push" else "invalid_number"
            return _Job(row, channel, None, failure("invalid_address", code, f"no {row.channel} address on file"))
        if row.channel == "sms" and not under_daily_limit(row.sms_today, channel.daily_limit):
            return _Job(row, channel, None, failure("daily_limit", "provider_rejected",
                                                    f"{channel.provider}: per-number daily limit reached"))
        try:
            # Opened here, for this call only: the plain number or token is never stored or logged.
            address = self.sealer.unseal(sealed)
            fields = values(row.template, row.locale, row.params)
        except (ValueError, KeyError) as exc:
            return _Job(row, channel, None, failure("rejected", "other", f"cannot prepare the message: {exc}"))
        outgoing = Outgoing(row.id, row.out_id, row.channel, row.kind, row.template, row.locale, fields, row.body or "",
                            address, row.to_masked or "", row.claimed_at or self.clock(), row.push_cid,
                            row.in_doubt)
        return _Job(row, channel, outgoing)

    async def _prepare(self, token: uuid.UUID, jobs: list[_Job]) -> list[list[_Job]]:
        """Idempotency ids (JPush cids, Aliyun batch OutIds) are committed before the first send that uses
        them. Returns the provider calls that carry several messages (those given one batch id)."""
        stored: dict[int, str] = {}
        for channel in {id(j.channel): j.channel for j in jobs if j.result is None and j.channel}.values():
            batch = [j.outgoing for j in jobs if j.channel is channel and j.result is None and j.outgoing]
            stored.update(await channel.prepare(batch))
        if not stored:
            return []
        async with self.uow_factory() as uow:
            await uow.remember_cids(token, stored)
            await uow.commit()
        calls: dict[str, list[_Job]] = {}
        for job in jobs:
            if job.outgoing and job.outgoing.message_id in stored:
                job.outgoing = replace(job.outgoing, push_cid=stored[job.outgoing.message_id])
                if job.channel and job.channel.batch_limit > 1:
                    calls.setdefault(stored[job.outgoing.message_id], []).append(job)
        return list(calls.values())

    async def _hand_over(self, call: list[_Job]) -> list[Result]:
        """One provider call: a single message (looked up first when in doubt) or a batch of one template."""
        channel, msgs = call[0].channel, [job.outgoing for job in call if job.outgoing]
        assert channel is not None and len(msgs) == len(call)
        if call[0].row.in_doubt:
            found = await channel.lookup(msgs[0])
            settled = "found" if found and found.outcome == "sent" else "sent_again"
            self.metrics.in_doubt.labels(channel.provider, settled).inc()
            if settled == "found":
                return [found]  # type: ignore[list-item]
        waited = await channel.pace()
        if waited:
            self.metrics.rate_wait_seconds.labels(channel.provider).inc(waited)
        started = time.perf_counter()
        try:
            results = await channel.send_batch(msgs) if len(msgs) > 1 else [await channel.send(msgs[0])]
        except Exception as exc:  # a defect in an adapter must not lose the message: it is looked up and retried
            log.exception("channel adapter raised", extra={"provider": channel.provider,
                                                           "message_ids": [m.message_id for m in msgs]})
            results = [failure("unknown", "other", f"{type(exc).__name__} in {channel.provider} adapter")] * len(msgs)
        self.metrics.provider_seconds.labels(channel.provider).observe(time.perf_counter() - started)
        return results

    async def _mark(self, token: uuid.UUID, jobs: list[_Job], today: date) -> None:
        now = self.clock()
        updates, plans = [], {}
        for job in jobs:
            row, result = job.row, job.result
            assert result is not None
            provider = job.channel.provider if job.channel else None
            decision = decide(result.outcome, channel=row.channel, plan=tuple(row.plan),  # type: ignore[arg-type]
                              channel_attempts=row.channel_attempts, urgent=row.urgent, now=now,
                              retry=self.config.retry, retry_after=result.retry_after)
            plans[row.id] = (job, decision)
            self.metrics.attempts.labels(row.channel, provider or "none", result.outcome).inc()
            updates.append({
                "id": row.id, "status": {"sent": "sent", "fail": "failed"}.get(decision.action, "pending"),
                "channel": decision.channel, "provider": provider, "next_at": decision.at,
                "in_doubt": decision.in_doubt, "reset": decision.action == "fallback",
                "pmid": result.provider_message_id, "err": result.error or None,
                "delivered_at": now if decision.action == "sent" else None,
            })
            if decision.action != "sent":
                log.info("message not delivered on this attempt", extra={
                    "message_id": row.id, "channel": row.channel, "provider": provider, "outcome": result.outcome,
                    "next": decision.action, "to": row.to_masked, "error": result.error})
        async with self.uow_factory() as uow:
            kept = await uow.mark(token, updates)
            sms_sent = []
            for message_id in kept:
                job, decision = plans[message_id]
                self._receipt(uow, job, decision, now)
                if decision.action == "sent":
                    self.sent_total += 1
                    self.metrics.handover_seconds.labels(job.row.kind).observe((now - job.row.event_at).total_seconds())
                    if job.row.channel == "sms":
                        sms_sent.append(job.row.recipient_id)
            await uow.count_sent("sms", today, sms_sent)
            await uow.commit()
        if len(kept) < len(updates):
            log.warning("some claims were taken over before they were marked", extra={"lost": len(updates) - len(kept)})

    def _receipt(self, uow: SenderUoW, job: _Job, decision: Decision, now: datetime) -> None:
        row, result = job.row, job.result
        assert result is not None
        common = dict(notification_id=f"ntf-{row.out_id}", recipient_id=row.recipient_id,
                      recipient_role=actor_role(row.recipient_role), addressed_as=addressed_as(row.recipient_role),
                      channel=row.channel, kind=row.kind,
                      student_id=row.student_id, school_id=row.school_id, cause_event_id=row.event_id,
                      cause_event_type=row.cause_event_type)
        # A kind version 1 can name keeps its v1 receipt, so v1 readers keep working; others (an emergency
        # broadcast's notice) are receipted as v2.
        sent, failed = ((NotificationSent, NotificationFailed) if row.kind in KINDS_V1
                        else (NotificationSentV2, NotificationFailedV2))
        if decision.action == "sent":
            event = sent(**common, locale=row.locale, provider_message_id=result.provider_message_id,
                                     sent_by="notification", sent_by_role="platform", sent_at=now)
            event_id = EVENT_IDS(f"{row.out_id}:sent")
        else:
            event = failed(**common, error_code=result.error_code or "other", error=result.error or "-",
                                       attempts=max(row.attempts, 1), final=decision.final,
                                       attempted_by="notification", attempted_by_role="platform", failed_at=now)
            event_id = EVENT_IDS(f"{row.out_id}:failed:{row.attempts}")
        uow.publish(event, correlation_id=row.correlation_id, causation_id=row.event_id, event_id=event_id)
