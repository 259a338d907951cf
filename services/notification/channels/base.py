"""The one interface every channel adapter implements, and the HTTP plumbing they share; no policy here."""
from __future__ import annotations

import asyncio
import logging
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

import httpx

from services.notification.domain.policy import Outcome
from services.notification.domain.ratelimit import TokenBucket
from shared.privacy import mask_phones_in

log = logging.getLogger(__name__)

ErrorCode = Literal["invalid_number", "push_token_expired", "provider_rejected", "provider_unavailable", "other"]


@dataclass(frozen=True)
class Outgoing:
    """One message as a channel sees it. `address` is the unsealed phone number or push token: it lives
    only in memory for the call, is never logged (repr hides it) and never stored."""

    message_id: int
    out_id: str
    channel: str
    kind: str
    template: str
    locale: str
    values: dict[str, str]
    body: str
    address: str = field(repr=False)
    to_masked: str
    claimed_at: datetime
    push_cid: str | None = None  # the id stored before a send: JPush's cid, or the OutId of an Aliyun batch
    in_doubt: bool = False  # an earlier attempt may have arrived: looked up first, and sent alone


@dataclass(frozen=True)
class Result:
    outcome: Outcome
    provider_message_id: str | None = None
    error_code: ErrorCode | None = None
    error: str = ""
    retry_after: float | None = None

    def __post_init__(self) -> None:
        # Provider messages sometimes echo the number; nothing past here may hold it in the clear.
        object.__setattr__(self, "error", mask_phones_in(self.error)[:500])


SENT = "sent"


def failure(outcome: Outcome, code: ErrorCode, error: str, retry_after: float | None = None) -> Result:
    return Result(outcome, None, code, error, retry_after)


class Channel(ABC):
    """Base of every adapter. `send` hands one message over; `lookup` answers, for a message whose
    earlier attempt may or may not have reached the provider, whether the provider has it."""

    channel: str = "sms"
    provider: str = "sink"
    rate_per_second: float | None = None
    daily_limit: int | None = None
    batch_limit: int = 1  # messages one provider call may carry; above 1, prepare() groups them (send_batch)

    def __init__(self) -> None:
        self._bucket: TokenBucket | None = None

    def limit_rate(self, per_second: float | None) -> None:
        self.rate_per_second = per_second
        self._bucket = TokenBucket(per_second, max(1.0, per_second)) if per_second else None

    async def pace(self) -> float:
        """Wait for a token of the provider's per-second limit; returns the seconds waited."""
        if self._bucket is None:
            return 0.0
        wait = self._bucket.reserve(asyncio.get_running_loop().time())
        if wait > 0:
            await asyncio.sleep(wait)
        return wait

    async def prepare(self, batch: list[Outgoing]) -> dict[int, str]:
        """Ids to store before sending: JPush cids, or for a channel with batch_limit above 1 the id of the
        call each message will go in (messages given one id are handed to send_batch together)."""
        return {}

    @abstractmethod
    async def send(self, msg: Outgoing) -> Result:
        """Hand one message to the provider and say what it answered."""

    async def send_batch(self, msgs: list[Outgoing]) -> list[Result]:
        """Hand over messages that prepare() put in one call; one result per message, in order."""
        return [await self.send(msg) for msg in msgs]

    async def lookup(self, msg: Outgoing) -> Result | None:
        return None

    async def aclose(self) -> None:
        return None


class HttpChannel(Channel):
    """An adapter over a provider's HTTP API with httpx. A transport error before the request left
    is safe to retry; one after it may have arrived makes the message 'unknown' (look it up first)."""

    def __init__(self, endpoint: str, timeout: float, transport: httpx.AsyncBaseTransport | None = None) -> None:
        super().__init__()
        self.endpoint = endpoint.rstrip("/")
        self.client = httpx.AsyncClient(base_url=self.endpoint, timeout=timeout, transport=transport,
                                        limits=httpx.Limits(max_connections=64, max_keepalive_connections=32))

    async def call(self, method: str, url: str, **kwargs) -> httpx.Response | Result:
        try:
            return await self.client.request(method, url, **kwargs)
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            return failure("retry", "provider_unavailable", f"{self.provider}: cannot connect ({type(exc).__name__})")
        except httpx.HTTPError as exc:
            return failure("unknown", "provider_unavailable", f"{self.provider}: no answer ({type(exc).__name__})")

    async def aclose(self) -> None:
        await self.client.aclose()


def national(phone: str) -> str:
    """11-digit mainland number from what enrollment sealed (may carry +86)."""
    digits = "".join(ch for ch in phone if ch.isdigit())
    return digits[-11:] if len(digits) > 11 and digits.startswith("86") else digits
