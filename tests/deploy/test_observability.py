"""Alerts and dashboards: the alert rules pass `promtool check rules` and fire in `promtool test rules`
exactly when they should; every dashboard query is valid PromQL; the dashboards cover what the IT team
watches; and every metric they name is one the code exports or docs/operations.md promises."""
from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from prometheus_client import CollectorRegistry

from deploy.k8s import dashboards
from shared.observability import KitMetrics
from tests.deploy.conftest import REPO, Rendered, tool

PROMTOOL_HINT = "apt-get install prometheus (Debian ships promtool in it)"
OPERATIONS = REPO / "docs" / "operations.md"


def alert_groups(rendered: Rendered) -> list[dict]:
    [rule] = rendered.of("PrometheusRule")
    return rule["spec"]["groups"]


def dashboard_exprs() -> list[tuple[str, str]]:
    out = []
    for build in dashboards.DASHBOARDS.values():
        for panel in build()["panels"]:
            for target in panel.get("targets", []):
                out.append((panel["title"], target["expr"]))
    return out


def promtool(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([tool("promtool", PROMTOOL_HINT), *args], cwd=cwd, capture_output=True, text=True)


def test_alert_rules_pass_promtool_check(rendered: Rendered, tmp_path: Path) -> None:
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump({"groups": alert_groups(rendered)}))
    result = promtool("check", "rules", "rules.yaml", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_each_alert_fires_when_it_should_and_only_then(rendered: Rendered, tmp_path: Path) -> None:
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump({"groups": alert_groups(rendered)}))
    shutil.copy(REPO / "tests" / "deploy" / "promtool" / "alerts.test.yaml", tmp_path)
    result = promtool("test", "rules", "alerts.test.yaml", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_alert_the_issue_asks_for_exists_and_has_a_runbook(rendered: Rendered) -> None:
    rules = {r["alert"]: r for g in alert_groups(rendered) for r in g["rules"] if "alert" in r}
    assert {"BeileiConsumerLagGrowing", "BeileiOutboxStuck", "BeileiDeadLetter", "BeileiLedgerCheckpointLate",
            "BeileiAnomalyDetected", "BeileiKafkaUnreachable", "BeileiConsumerStuck", "BeileiOutboxRowSetAside"} <= set(rules)
    anchors = set(re.findall(r"^#+ (.+)$", OPERATIONS.read_text(), re.M))
    anchors = {re.sub(r"[^a-z0-9 -]", "", a.lower()).replace(" ", "-") for a in anchors}
    tested = (REPO / "tests" / "deploy" / "promtool" / "alerts.test.yaml").read_text()
    for name, rule in rules.items():
        assert rule["labels"]["severity"] in ("warning", "critical"), name
        runbook = rule["annotations"]["runbook"]
        assert runbook.startswith("docs/operations.md#") and runbook.split("#")[1] in anchors, (name, runbook)
        assert f"alertname: {name}" in tested, f"{name} has no promtool test"


def test_every_dashboard_query_is_valid_promql(tmp_path: Path) -> None:
    rules = [
        {"record": f"dashboard:query_{i}", "expr": expr.replace("$__rate_interval", "5m")}
        for i, (_, expr) in enumerate(dashboard_exprs())
    ]
    (tmp_path / "queries.yaml").write_text(yaml.safe_dump({"groups": [{"name": "dashboards", "rules": rules}]}))
    result = promtool("check", "rules", "queries.yaml", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_dashboard_shows_what_the_bureau_watches() -> None:
    exprs = " ".join(expr for _, expr in dashboard_exprs())
    for concern, pattern in {
        "throughput per service": r"sum by \(job\) \(rate\(beilei_events_consumed_total",
        "lag per service": r"sum by \(consumergroup\) \(kafka_consumergroup_lag",
        "outbox backlog": r"beilei_outbox_backlog",
        "dead-letter counts": r"beilei_dlq_records_total",
        "pickup-to-message latency": r'beilei_notification_handover_seconds_bucket\{kind="pickup"\}',
        "ledger checkpoint age": r"beilei_ledger_checkpoint_age_seconds",
        "anomalies": r"beilei_anomalies_detected_total",
    }.items():
        assert re.search(pattern, exprs), concern


def test_the_dashboard_is_well_formed_grafana_json() -> None:
    for filename, build in dashboards.DASHBOARDS.items():
        board = build()
        committed = json.loads((REPO / "deploy" / "k8s" / "base" / "observability" / "dashboards" / filename).read_text())
        assert committed == board
        ids = [p["id"] for p in board["panels"]]
        assert len(ids) == len(set(ids))
        cells: set[tuple[int, int]] = set()
        for panel in board["panels"]:
            pos = panel["gridPos"]
            assert 0 <= pos["x"] and pos["x"] + pos["w"] <= 24, panel["title"]
            mine = {(x, y) for x in range(pos["x"], pos["x"] + pos["w"]) for y in range(pos["y"], pos["y"] + pos["h"])}
            assert not mine & cells, f"{panel['title']} overlaps another panel"
            cells |= mine
            if panel["type"] != "row":
                assert panel["datasource"]["uid"] == "${datasource}" and panel["targets"], panel["title"]


def test_grafana_loads_the_dashboard_from_a_labelled_config_map(rendered: Rendered) -> None:
    for filename, build in dashboards.DASHBOARDS.items():
        [config_map] = [c for c in rendered.of("ConfigMap") if filename in c.get("data", {})]
        assert config_map["metadata"]["labels"]["grafana_dashboard"] == "1"
        assert json.loads(config_map["data"][filename]) == build()


def kit_metric_names() -> set[str]:
    registry = CollectorRegistry()
    KitMetrics(registry)
    names = set()
    for family in registry.collect():
        base = family.name
        names |= {base, f"{base}_total", f"{base}_bucket", f"{base}_count", f"{base}_sum"}
    return names


def promised_service_metrics() -> set[str]:
    """The metric names docs/operations.md lists as exported by the services themselves."""
    text = OPERATIONS.read_text()
    section = text.split("## Metrics the services export", 1)[1].split("\n## ", 1)[0]
    names = set()
    for name in re.findall(r"`(beilei_[a-z_]+)`", section):
        names |= {name, f"{name}_bucket", f"{name}_count", f"{name}_sum"}
    return names


def test_every_metric_in_alerts_and_dashboards_is_exported_or_promised(rendered: Rendered) -> None:
    texts = [expr for _, expr in dashboard_exprs()]
    texts += [r["expr"] for g in alert_groups(rendered) for r in g["rules"]]
    used = set(re.findall(r"\b(beilei_[a-z_]+)", " ".join(texts)))
    known = kit_metric_names() | promised_service_metrics()
    assert used, "no beilei_ metric used at all"
    assert not used - known, f"neither exported by the kit nor listed in docs/operations.md: {used - known}"


@pytest.mark.parametrize("name", ["beilei_outbox_backlog", "beilei_dlq_records_total", "beilei_events_consumed_total"])
def test_the_kit_exports_the_metrics_the_alerts_rely_on(name: str) -> None:
    assert name in kit_metric_names()
