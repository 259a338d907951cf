"""JSON logs with correlation ids and masked phone and ID numbers, and the kit's Prometheus metrics."""
from __future__ import annotations

import contextvars
import json
import logging
import sys
import uuid
from datetime import UTC, datetime

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from shared.privacy import redact

correlation_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("correlation_id", default=None)
# The event being handled, so that what a handler publishes names it as its cause.
causing_event: contextvars.ContextVar[uuid.UUID | None] = contextvars.ContextVar("causing_event", default=None)

_STANDARD = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message", "asctime", "taskName", "color_message"}


class JsonFormatter(logging.Formatter):
    """One JSON object per line. Phone and ID numbers are masked in every field, message and traceback,
    whatever logged them (shared.privacy.redact)."""

    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "service": self.service,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        cid = correlation_id.get()
        if cid:
            entry["correlation_id"] = cid
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return redact(json.dumps(entry, ensure_ascii=False, default=str))


def configure_logging(service: str, level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonFormatter(service))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("aiokafka", "kafka", "sqlalchemy.engine", "uvicorn.access"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    # FastStream and uvicorn install their own handlers; route everything through ours.
    for name in ("uvicorn", "uvicorn.error", "faststream", "faststream.access.kafka", "alembic"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True


class KitMetrics:
    """Metrics of the messaging kit; one registry per process (a service) so tests stay isolated."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self.outbox_backlog = Gauge(
            "beilei_outbox_backlog", "Outbox rows not yet published.", registry=registry
        )
        self.outbox_oldest_age = Gauge(
            "beilei_outbox_oldest_age_seconds", "Age of the oldest unpublished outbox row.", registry=registry
        )
        self.published = Counter(
            "beilei_events_published", "Records published by the outbox relay.", ["topic"], registry=registry
        )
        self.consumed = Counter(
            "beilei_events_consumed",
            "Records consumed, by outcome (applied, duplicate, ignored, dead_lettered).",
            ["topic", "outcome"],
            registry=registry,
        )
        self.dlq = Counter(
            "beilei_dlq_records", "Records sent to a dead-letter topic.", ["topic", "kind"], registry=registry
        )
        self.batch_seconds = Histogram(
            "beilei_batch_seconds",
            "Time to apply one consumed batch in one transaction.",
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            registry=registry,
        )
        self.consumer_stuck = Gauge(
            "beilei_consumer_stuck",
            "1 while the consumer holds a batch back that it can neither process nor dead-letter (it retries, never skips).",
            registry=registry,
        )
        self.outbox_refused = Counter(
            "beilei_outbox_refused", "Outbox rows Kafka refused for good (e.g. too large), set aside by the relay.",
            ["topic"], registry=registry,
        )
        self.outbox_set_aside = Gauge(
            "beilei_outbox_set_aside", "Outbox rows set aside by the relay, waiting for an operator.", registry=registry
        )
        self.batch_size = Histogram(
            "beilei_batch_records", "Records per consumed batch.",
            buckets=(1, 5, 10, 50, 100, 250, 500, 1000), registry=registry,
        )
