"""Kafka plumbing of the kit: the FastStream broker, the batch subscriber, and topic creation."""
from __future__ import annotations

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
from shared.messaging.consumer import BatchConsumer, RawRecord
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


def subscribe_batches(broker: KafkaBroker, consumer: BatchConsumer, topics: tuple[str, ...], *, max_records: int) -> None:
    """One batch subscriber per service over all the topics it consumes; offsets are committed
    (msg.ack) only after `consumer.process` has committed the batch's effects."""

    @broker.subscriber(
        *topics,
        group_id=consumer.name,
        batch=True,
        max_records=max_records,
        batch_timeout_ms=50,
        auto_offset_reset="earliest",
        ack_policy=AckPolicy.MANUAL,
        decoder=_raw_decoder,
        max_poll_interval_ms=600_000,
        title=f"{consumer.name}:consume",
    )
    async def on_events(body: Any, msg: KafkaMessage) -> None:
        raw = msg.raw_message if isinstance(msg.raw_message, tuple) else (msg.raw_message,)
        await consumer.process([RawRecord.from_consumer_record(r) for r in raw])
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
