"""Group commit: concurrent requests are processed and committed in one transaction, each answered with
its own items' outcomes (at city scale nearly every request carries one item, and a transaction of one
item spends most of its time in round trips and commit). Knows no HTTP, no SQL and no service."""
from __future__ import annotations

import asyncio
import contextvars
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from shared.messaging.uow import UnitOfWork

log = logging.getLogger(__name__)

ItemT = TypeVar("ItemT")  # an item of a request
OutcomeT = TypeVar("OutcomeT")  # its outcome
UowT = TypeVar("UowT", bound=UnitOfWork)


class Stopping(Exception):
    """The service is shutting down and takes no new request; the caller should resend it shortly."""


@dataclass
class _Request(Generic[ItemT, OutcomeT]):
    items: list[ItemT]
    answer: asyncio.Future[list[OutcomeT]]
    keys: set[Hashable]


class GroupCommit(Generic[UowT, ItemT, OutcomeT]):
    """Requests queue here and a worker takes everything queued into one group: `process` runs once over
    the group's items in one unit of work, one commit, and each request gets its own outcomes back, in
    order (one per item).

    - A group is whatever queued while the previous groups ran, plus what arrives within `linger`
      seconds of its first request (as a Kafka producer's linger.ms): at the evening's ~300 one-record
      POSTs a second a few milliseconds' wait turns one transaction per request into one per several,
      and each transaction's round trips, not its rows, are what it costs. A lone request waits at most
      `linger`; a full group (`max_records`) does not wait.
    - At most `max_in_flight` groups run at a time, so one group's database wait overlaps the next
      group's judging; a group holds at most `max_records` records (one request may alone be larger).
    - Two requests sharing a key (`key(item)`, None for none) never share a group: the later waits for
      the next, so they are processed as if they had come one after the other.
    - If a group's transaction fails, each of its requests is retried alone, so one request that cannot
      be processed fails only itself, with its own exception.
    - `close()` takes no new request (`Stopping`), finishes what is queued and waits for the groups."""

    def __init__(self, uow_factory: Callable[[], UowT],
                 process: Callable[[UowT, Sequence[ItemT]], Awaitable[list[OutcomeT]]], *,
                 max_records: int, max_in_flight: int = 2, linger: float = 0.0,
                 key: Callable[[ItemT], Hashable | None] = lambda item: None, service: str = "the service") -> None:
        self._uow_factory = uow_factory
        self._key = key
        self._service = service
        self._linger = linger
        self._process = process
        self._max_records = max_records
        self._slots = asyncio.Semaphore(max_in_flight)
        self._queue: deque[_Request] = deque()
        self._worker: asyncio.Task | None = None
        self._groups: set[asyncio.Task] = set()
        self._closed = False
        self.groups = 0  # groups committed or failed, for metrics and benchmarks
        self.requests = 0

    async def submit(self, items: Sequence[ItemT]) -> list[OutcomeT]:
        """Outcomes of this request's items, in order, once their group has committed. Raises what
        processing the request alone raised, or `Stopping`."""
        if self._closed:
            raise Stopping(f"{self._service} is shutting down and takes no new records; resend the batch shortly")
        answer: asyncio.Future[list[OutcomeT]] = asyncio.get_running_loop().create_future()
        keys = {k for k in map(self._key, items) if k is not None}
        self._queue.append(_Request(list(items), answer, keys))
        if self._worker is None or self._worker.done():
            # A fresh context: the worker outlives the request that happened to start it, so it must not
            # carry that request's correlation id into the others' logs.
            self._worker = asyncio.create_task(self._work(), name="group-commit",
                                               context=contextvars.Context())
        return await answer

    async def close(self) -> None:
        """Stop taking requests; the queued ones are still processed, then every group is awaited."""
        self._closed = True
        if self._worker is not None:
            await asyncio.gather(self._worker, return_exceptions=True)
        if self._groups:
            await asyncio.gather(*self._groups, return_exceptions=True)
        self._fail_queued(Stopping(f"{self._service} stopped before this batch could be processed; resend it"))

    async def _work(self) -> None:
        """Runs while requests are queued, then ends (the next request starts a new worker), so an idle
        service holds no task and needs no timer."""
        try:
            while self._live():
                await self._slots.acquire()
                if not self._live():  # the waiting senders went away while every slot was busy
                    self._slots.release()
                    return
                if self._linger and not self._closed and self._queued_records() < self._max_records:
                    await asyncio.sleep(self._linger)
                group = self._take()
                task = asyncio.create_task(self._run(group), name="group-commit-group")
                self._groups.add(task)
                task.add_done_callback(self._groups.discard)
        except BaseException as exc:
            # Only a defect or cancellation lands here; nobody queued may be left waiting forever.
            self._fail_queued(Stopping(f"{self._service} could not process this batch ({exc!r}); resend it"))
            raise

    def _live(self) -> bool:
        """Whether a request is queued whose sender still waits (a disconnected client cancels its wait)."""
        while self._queue and self._queue[0].answer.done():
            self._queue.popleft()
        return bool(self._queue)

    def _queued_records(self) -> int:
        return sum(len(request.items) for request in self._queue)

    def _take(self) -> list[_Request]:
        """Queued requests, oldest first, up to `max_records` items; a request sharing a key with one
        taken or left behind waits for a later group, so requests about one thing keep their order."""
        group: list[_Request[ItemT, OutcomeT]] = []
        left: deque[_Request] = deque()
        taken: set[Hashable] = set()
        blocked: set[Hashable] = set()
        size = 0
        while self._queue:
            request = self._queue[0]
            if group and size + len(request.items) > self._max_records:
                break
            self._queue.popleft()
            if request.answer.done():
                continue
            keys = request.keys
            if keys & (taken | blocked):
                blocked |= keys
                left.append(request)
                continue
            group.append(request)
            taken |= keys
            size += len(request.items)
        self._queue.extendleft(reversed(left))
        return group

    async def _run(self, group: list[_Request[ItemT, OutcomeT]]) -> None:
        try:
            await self._commit(group)
        except BaseException:
            # Cancelled mid-transaction (the loop is going down): the transaction rolled back, so say so.
            for request in group:
                _settle(request.answer, exception=Stopping(f"{self._service} stopped while processing this batch; resend it"))
            raise
        finally:
            self._slots.release()

    async def _commit(self, group: list[_Request[ItemT, OutcomeT]]) -> None:
        self.groups += 1
        self.requests += len(group)
        try:
            async with self._uow_factory() as uow:
                outcomes = await self._process(uow, [item for request in group for item in request.items])
                await uow.commit()
        except Exception as exc:
            if len(group) == 1:
                _settle(group[0].answer, exception=exc)
                return
            log.warning("a grouped transaction failed; retrying its requests one by one",
                        extra={"requests": len(group)}, exc_info=True)
            for request in group:
                await self._commit([request])
            return
        start = 0
        for request in group:
            _settle(request.answer, result=outcomes[start:start + len(request.items)])
            start += len(request.items)

    def _fail_queued(self, exc: Exception) -> None:
        while self._queue:
            _settle(self._queue.popleft().answer, exception=exc)


def _settle(answer: asyncio.Future, *, result: list | None = None, exception: BaseException | None = None) -> None:
    if answer.done():  # the client went away; the items' effects stand, and a resend is harmless
        return
    if exception is not None:
        answer.set_exception(exception)
    else:
        answer.set_result(result)
