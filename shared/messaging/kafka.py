"""Kafka plumbing of the kit: the FastStream broker, the batch subscriber, and topic creation."""
from __future__ import annotations

import asyncio
import dataclasses
import logging
import ssl
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError
from faststream.kafka import KafkaBroker, KafkaMessage
from faststream.kafka.prometheus import KafkaPrometheusMiddleware
from faststream.kafka.security import parse_security
from faststream.middlewares import AckPolicy
from faststream.security import BaseSecurity, SASLScram512
from prometheus_client import CollectorRegistry

from shared.contracts import topics as T
from shared.messaging.consumer import BatchConsumer, ConsumerStopping, RawRecord
from shared.settings import CommonSettings

log = logging.getLogger(__name__)


def client_security(settings: CommonSettings) -> BaseSecurity | None:
    """How every Kafka client of a service authenticates: SCRAM-SHA-512 when a user is set (each service
    has its own KafkaUser with least-privilege ACLs on Kubernetes), TLS when a CA file is set, neither for
    a local broker."""
    context = ssl.create_default_context(cafile=settings.kafka_ssl_cafile) if settings.kafka_ssl_cafile else None
    if settings.kafka_sasl_username:
        return SASLScram512(settings.kafka_sasl_username, settings.kafka_sasl_password or "",
                            ssl_context=context, use_ssl=context is not None)
    if context is not None:
        return BaseSecurity(ssl_context=context, use_ssl=True)
    return None


def client_options(settings: CommonSettings) -> dict[str, Any]:
    """client_security as keyword arguments for aiokafka's producer and admin clients."""
    return parse_security(client_security(settings))


def make_broker(bootstrap: str, service: str, registry: CollectorRegistry,
                security: BaseSecurity | None = None) -> KafkaBroker:
    return KafkaBroker(
        bootstrap,
        client_id=service,
        security=security,
        middlewares=[KafkaPrometheusMiddleware(registry=registry, app_name=service)],
        graceful_timeout=30.0,  # on SIGTERM, a batch in flight finishes and its offsets are committed
        logger=logging.getLogger(f"faststream.{service}"),
    )


async def _raw_decoder(message: Any) -> Any:
    # Bodies are decoded by the kit (with a DLQ for garbage), never by the framework.
    return None


async def _tolerant_parser(records: Any, original: Any) -> Any:
    """FastStream's parser decodes every header value as UTF-8 and, on a value that is not, fails the
    whole batch before the kit sees it (and the next batch's commit would then pass it over). Parse a
    readable copy instead, and hand the kit the records as they came (they go to the DLQ untouched)."""
    try:
        return await original(records)
    except Exception:
        readable = tuple(
            dataclasses.replace(r, headers=[(k, (v or b"").decode("utf-8", "replace").encode()) for k, v in r.headers or ()])
            for r in records
        )
        message = await original(readable)
        message.raw_message = records
        return message




def subscribe_batches(broker: KafkaBroker, consumer: BatchConsumer, topics: tuple[str, ...], *, max_records: int,
                      fetch_min_bytes: int = 4 * 1024, fetch_max_wait_ms: int = 100) -> None:
    """One batch subscriber per service over all the topics it consumes; offsets are committed
    (msg.ack) only after `consumer.process` has committed the batch's effects.

    With AckPolicy.MANUAL, FastStream logs an exception from this subscriber and fetches the next
    batch; the consumer's position is already past the failed one, so the next ack would commit over
    it. So a batch that is not processed is rewound (msg.nack seeks each partition back to its first
    record of the batch) before anything else is fetched; the inbox makes the replay harmless."""

    @broker.subscriber(
        *topics,
        group_id=consumer.name,
        batch=True,
        max_records=max_records,
        batch_timeout_ms=50,
        auto_offset_reset="earliest",
        ack_policy=AckPolicy.MANUAL,
        decoder=_raw_decoder,
        parser=_tolerant_parser,
        max_poll_interval_ms=600_000,
        # The broker answers a fetch once 4 KiB (about six events) wait or 100 ms have passed, rather than
        # for every new record: at the evening's rate each consumer otherwise asks several hundred times a
        # second, and the broker's and client's per-request work outweighed the records. A shorter wait
        # costs more than it saves on a consumer with nothing to read (each is polled every wait).
        fetch_min_bytes=fetch_min_bytes,
        fetch_max_wait_ms=fetch_max_wait_ms,
        title=f"{consumer.name}:consume",
    )
    async def on_events(body: Any, msg: KafkaMessage) -> None:
        raw = msg.raw_message if isinstance(msg.raw_message, tuple) else (msg.raw_message,)
        try:
            await consumer.process([RawRecord.from_consumer_record(r) for r in raw])
        except ConsumerStopping:
            await msg.nack()  # stopping while held back: the next run starts at this batch
            return
        except asyncio.CancelledError:
            await msg.nack()
            raise
        except Exception:
            await msg.nack()
            await asyncio.sleep(1.0)  # a defect in the kit: the batch is replayed, but not in a tight loop
            raise
        await msg.ack()


async def ensure_topics(bootstrap: str, names: list[str] | None = None,
                        options: dict[str, Any] | None = None) -> list[str]:
    """Create missing topics with their configured partition counts; returns those created."""
    wanted = names or list(T.ALL_TOPICS)
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, client_id="beilei-topics", **(options or {}))
    await admin.start()
    created: list[str] = []
    try:
        existing = set(await admin.list_topics())
        missing = [t for t in wanted if t not in existing]
        for name in missing:
            try:
                await admin.create_topics([NewTopic(name, T.PARTITIONS.get(name, 1), 1)])
                created.append(name)
            except TopicAlreadyExistsError:
                pass
    finally:
        await admin.close()
    if created:
        log.info("created topics", extra={"topics": created})
    return created
