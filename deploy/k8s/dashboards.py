"""Grafana dashboards for the bureau's IT team, as dashboard JSON built from a short list of panels.
The queries use the kit's metrics (shared/observability.py), Strimzi's Kafka Exporter and the service
metrics listed in docs/operations.md; nothing here knows a service's internals."""
from __future__ import annotations

from dataclasses import dataclass

from shared.contracts import topics as T

DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
SERVICES_RE = "|".join(T.WORKLOADS)
CONSUMERS_RE = "|".join(s for s in T.WORKLOADS if T.CONSUMES.get(s))


@dataclass(frozen=True)
class Query:
    expr: str
    legend: str


@dataclass(frozen=True)
class Panel:
    title: str
    description: str
    queries: tuple[Query, ...]
    unit: str = "short"
    kind: str = "timeseries"
    width: int = 12


def _panel(panel: Panel, panel_id: int, x: int, y: int) -> dict:
    return {
        "id": panel_id,
        "type": panel.kind,
        "title": panel.title,
        "description": panel.description,
        "datasource": DATASOURCE,
        "gridPos": {"x": x, "y": y, "w": panel.width, "h": 8},
        "fieldConfig": {"defaults": {"unit": panel.unit}, "overrides": []},
        "options": {"legend": {"displayMode": "table", "placement": "right", "calcs": ["lastNotNull", "max"]}}
        if panel.kind == "timeseries"
        else {"reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False}},
        "targets": [
            {"refId": chr(ord("A") + i), "datasource": DATASOURCE, "expr": q.expr, "legendFormat": q.legend}
            for i, q in enumerate(panel.queries)
        ],
    }


def _row(title: str, panel_id: int, y: int) -> dict:
    return {"id": panel_id, "type": "row", "title": title, "collapsed": False,
            "gridPos": {"x": 0, "y": y, "w": 24, "h": 1}, "panels": []}


def _dashboard(uid: str, title: str, description: str, rows: list[tuple[str, list[Panel]]]) -> dict:
    panels: list[dict] = []
    panel_id, y = 1, 0
    for row_title, row_panels in rows:
        panels.append(_row(row_title, panel_id, y))
        panel_id, y, x = panel_id + 1, y + 1, 0
        for panel in row_panels:
            if x + panel.width > 24:
                x, y = 0, y + 8
            panels.append(_panel(panel, panel_id, x, y))
            panel_id, x = panel_id + 1, x + panel.width
        y += 8
    return {
        "uid": uid,
        "title": title,
        "description": description,
        "tags": ["beilei"],
        "timezone": "browser",
        "schemaVersion": 39,
        "version": 1,
        "editable": False,
        "refresh": "30s",
        "time": {"from": "now-6h", "to": "now"},
        "annotations": {"list": []},
        "links": [],
        "templating": {
            "list": [
                {
                    "name": "datasource",
                    "label": "Prometheus",
                    "type": "datasource",
                    "query": "prometheus",
                    "current": {},
                    "hide": 0,
                    "refresh": 1,
                }
            ]
        },
        "panels": panels,
    }


def platform_dashboard() -> dict:
    """The one page to watch during the evening surge: is every event flowing, and is anything stuck?"""
    flow = [
        Panel(
            "Events applied per second, by service",
            "Records each service consumed and applied (kit counter beilei_events_consumed_total).",
            (Query(f'sum by (job) (rate(beilei_events_consumed_total{{job=~"{SERVICES_RE}",outcome="applied"}}[$__rate_interval]))', "{{job}}"),),
            unit="ops",
        ),
        Panel(
            "Events published per second, by service",
            "Outbox rows the relays published to Kafka.",
            (Query(f'sum by (job) (rate(beilei_events_published_total{{job=~"{SERVICES_RE}"}}[$__rate_interval]))', "{{job}}"),),
            unit="ops",
        ),
        Panel(
            "Consumer lag, by service",
            "Records not yet consumed by each consumer group (Strimzi Kafka Exporter). KEDA scales on this.",
            (Query(f'sum by (consumergroup) (kafka_consumergroup_lag{{consumergroup=~"{CONSUMERS_RE}"}})', "{{consumergroup}}"),),
        ),
        Panel(
            "Pods ready, by service",
            "Scrape targets up; compare with the KEDA ceiling (the partition count).",
            (Query(f'sum by (job) (up{{job=~"{SERVICES_RE}"}})', "{{job}}"),),
        ),
        Panel(
            "Batch apply time p99, by service",
            "Time to apply one consumed batch in one transaction.",
            (Query(f'histogram_quantile(0.99, sum by (job, le) (rate(beilei_batch_seconds_bucket{{job=~"{SERVICES_RE}"}}[$__rate_interval])))', "{{job}}"),),
            unit="s",
        ),
        Panel(
            "Duplicates and dead letters per second",
            "Redeliveries the inbox absorbed, and records sent to a DLQ.",
            (Query(f'sum by (job, outcome) (rate(beilei_events_consumed_total{{job=~"{SERVICES_RE}",outcome!="applied"}}[$__rate_interval]))', "{{job}} {{outcome}}"),),
            unit="ops",
        ),
    ]
    outbox = [
        Panel(
            "Outbox backlog, by service",
            "Committed events not yet published. Grows when Kafka is unreachable; must drain after.",
            (Query(f'max by (job) (beilei_outbox_backlog{{job=~"{SERVICES_RE}"}})', "{{job}}"),),
        ),
        Panel(
            "Oldest unpublished outbox row, by service",
            "Alert BeileiOutboxStuck fires above 60 s.",
            (Query(f'max by (job) (beilei_outbox_oldest_age_seconds{{job=~"{SERVICES_RE}"}})', "{{job}}"),),
            unit="s",
        ),
        Panel(
            "Dead letters in the last hour, by topic and kind",
            "Records that can never be processed; each one needs a look (docs/operations.md, dead letters).",
            (Query(f'sum by (topic, kind) (increase(beilei_dlq_records_total{{job=~"{SERVICES_RE}"}}[1h]))', "{{topic}} {{kind}}"),),
        ),
        Panel(
            "Records held in dead-letter topics",
            "Total records per DLQ topic as the brokers see them (survives pod restarts).",
            (Query('sum by (topic) (kafka_topic_partition_current_offset{topic=~".+[.]dlq"})', "{{topic}}"),),
        ),
    ]
    outcomes = [
        Panel(
            "Pickup to message latency",
            "From a child's check-out to the message handed to the SMS or push channel (R11, R22).",
            (
                Query('histogram_quantile(0.5, sum by (le) (rate(beilei_notification_handover_seconds_bucket{kind="pickup"}[$__rate_interval])))', "p50"),
                Query('histogram_quantile(0.99, sum by (le) (rate(beilei_notification_handover_seconds_bucket{kind="pickup"}[$__rate_interval])))', "p99"),
            ),
            unit="s",
        ),
        Panel(
            "Messages handed over per second, by channel",
            "Every guardian message, by kind and channel.",
            (Query("sum by (kind) (rate(beilei_notification_handover_seconds_count[$__rate_interval]))", "{{kind}}"),),
            unit="ops",
        ),
        Panel(
            "Ledger checkpoint age",
            "Seconds since the last signed checkpoint, against the configured interval (R24, R26).",
            (
                Query("max(beilei_ledger_checkpoint_age_seconds)", "age"),
                Query("max(beilei_ledger_checkpoint_interval_seconds)", "interval"),
            ),
            unit="s",
        ),
        Panel(
            "Ledger entries not yet in a checkpoint",
            "Entries appended since the last signed checkpoint.",
            (Query("max(beilei_ledger_unsigned_entries)", "entries"),),
        ),
        Panel(
            "Anomalies in the last 24 hours, by rule",
            "Anti-misappropriation findings (R25); each is also an AnomalyDetected event for the auditors.",
            (Query("sum by (rule) (increase(beilei_anomalies_detected_total[24h]))", "{{rule}}"),),
            kind="stat",
            width=24,
        ),
    ]
    return _dashboard(
        "beilei-platform",
        "Beilei platform",
        "Throughput and lag per service, outbox, dead letters, pickup-to-message latency, ledger checkpoints and anomalies.",
        [("Event flow", flow), ("Outbox and dead letters", outbox), ("Guardians and auditors", outcomes)],
    )


DASHBOARDS = {"beilei-platform.json": platform_dashboard}
