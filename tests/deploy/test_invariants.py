"""The rules every rendered overlay must keep: probes, limits and a PDB per Deployment; nobody runs as
root; no secret value in a manifest; Kafka ACLs, topics and autoscaling that follow from the code
(shared/contracts); NetworkPolicies that let each service reach only what it needs."""
from __future__ import annotations

import importlib
import re

from deploy.k8s import generate
from deploy.k8s.manifests import HTTP_PORT, SPECS
from shared.contracts import topics as T
from shared.settings import CommonSettings
from tests.deploy.conftest import Rendered, containers

SERVICES = T.WORKLOADS
# Facts of the services (their settings modules): who seals guardians' contacts, who signs the ledger
# (and writes it as a role of its own).
SEALS_CONTACTS = {"enrollment", "notification"}
SIGNS_LEDGER = {"audit"}
SENSITIVE_ENV = re.compile(r"SECRET|PASSWORD|KEY|TOKEN|CREDENTIAL|DATABASE_URL")


def deployments(rendered: Rendered) -> dict[str, dict]:
    return {d["metadata"]["name"]: d for d in rendered.of("Deployment")}


def pod_spec(deployment: dict) -> dict:
    return deployment["spec"]["template"]["spec"]


def main_container(deployment: dict) -> dict:
    [container] = [c for c in pod_spec(deployment)["containers"] if c["name"] == deployment["metadata"]["name"]]
    return container


def resolved_env(rendered: Rendered, container: dict) -> dict[str, object]:
    """A container's environment: ConfigMap values resolved, Secret references left as references."""
    env: dict[str, object] = {}
    for source in container.get("envFrom", []):
        if "configMapRef" in source:
            env.update(rendered.named("ConfigMap", source["configMapRef"]["name"])["data"])
    for var in container.get("env", []):
        env[var["name"]] = var["value"] if "value" in var else var["valueFrom"]
    return env


def selects(selector: dict, labels: dict) -> bool:
    return all(labels.get(k) == v for k, v in selector.get("matchLabels", {}).items())


# ------------------------------------------------------------------------------------------ workloads


def test_there_is_one_deployment_per_service(rendered: Rendered) -> None:
    assert set(deployments(rendered)) == set(SERVICES)


def test_every_deployment_probes_the_health_endpoints(rendered: Rendered) -> None:
    for name, deployment in deployments(rendered).items():
        container = main_container(deployment)
        http_port = {p["name"]: p["containerPort"] for p in container["ports"]}["http"]
        assert container["livenessProbe"]["httpGet"]["path"] == "/health/live", name
        assert container["readinessProbe"]["httpGet"]["path"] == "/health/ready", name
        assert container["startupProbe"]["httpGet"]["path"] == "/health/live", name
        for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
            assert container[probe]["httpGet"]["port"] in ("http", http_port), (name, probe)
        # The port the probes hit is the one the service listens on.
        assert int(resolved_env(rendered, container)["HTTP_PORT"]) == http_port, name
        assert resolved_env(rendered, container)["HTTP_HOST"] == "0.0.0.0", name


def test_every_container_has_cpu_and_memory_requests_and_limits(rendered: Rendered) -> None:
    for name, deployment in deployments(rendered).items():
        for container in containers(pod_spec(deployment)):
            resources = container.get("resources", {})
            for kind in ("requests", "limits"):
                assert {"cpu", "memory"} <= set(resources.get(kind, {})), (name, container["name"], kind)


def test_every_deployment_has_a_pod_disruption_budget_that_still_allows_a_drain(rendered: Rendered) -> None:
    budgets = rendered.of("PodDisruptionBudget")
    for name, deployment in deployments(rendered).items():
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        matching = [b for b in budgets if selects(b["spec"]["selector"], labels)]
        assert len(matching) == 1, f"{name} has {len(matching)} PodDisruptionBudgets"
        # maxUnavailable 1 protects the consumer group yet never blocks a node drain at one replica.
        assert matching[0]["spec"].get("maxUnavailable") == 1, name


def test_no_container_runs_as_root_or_can_become_root(rendered: Rendered) -> None:
    for name, deployment in deployments(rendered).items():
        pod = pod_spec(deployment)
        assert pod["securityContext"]["runAsNonRoot"] is True, name
        assert pod["securityContext"]["runAsUser"] != 0, name
        assert pod.get("automountServiceAccountToken") is False, name
        for container in containers(pod):
            ctx = container.get("securityContext", {})
            where = (name, container["name"])
            assert ctx.get("runAsUser", pod["securityContext"]["runAsUser"]) != 0, where
            assert ctx.get("runAsNonRoot", True) is True, where
            assert ctx.get("privileged", False) is False, where
            assert ctx.get("allowPrivilegeEscalation") is False, where
            assert ctx.get("readOnlyRootFilesystem") is True, where
            assert ctx.get("capabilities", {}).get("drop") == ["ALL"], where


def test_images_are_pinned_to_a_tag_in_every_overlay(rendered: Rendered) -> None:
    for name, deployment in deployments(rendered).items():
        for container in containers(pod_spec(deployment)):
            image = container["image"]
            assert re.fullmatch(rf"(.+/)?beilei/{name}:[\w.-]+", image), image
            assert not image.endswith(":latest"), image


def test_migrations_run_in_an_init_container_and_services_do_not_create_topics(rendered: Rendered) -> None:
    for name, deployment in deployments(rendered).items():
        pod = pod_spec(deployment)
        [migrate] = pod["initContainers"]
        assert migrate["command"] == ["python", "-m", "shared.messaging.migrate", name]
        assert migrate["image"] == main_container(deployment)["image"]
        env = resolved_env(rendered, main_container(deployment))
        assert env["MIGRATE_ON_START"] == "false", name
        assert env["CREATE_TOPICS"] == "false", name
        # Both containers reach the same database.
        assert resolved_env(rendered, migrate)["DATABASE_URL"] == env["DATABASE_URL"], name


# -------------------------------------------------------------------------------------------- secrets


def test_no_secret_objects_or_secret_values_appear_in_any_manifest(rendered: Rendered) -> None:
    assert not rendered.of("Secret"), "Secrets are created in the cluster, never committed (docs/operations.md)"
    text = repr(rendered.objects)
    defaults = CommonSettings.model_fields
    for local_only in (defaults["auth_jwks"].default, defaults["contact_sealing_key"].default):
        assert local_only not in text, "a local-development default secret leaked into a manifest"
    assert "-----BEGIN" not in text, "a key or certificate is inlined"
    assert not re.search(r"://[^/\s:@'\"]+:[^@\s'\"]+@", text), "a URL with a password is inlined"


def test_every_sensitive_variable_comes_from_a_secret(rendered: Rendered) -> None:
    for name, deployment in deployments(rendered).items():
        for container in containers(pod_spec(deployment)):
            for key, value in resolved_env(rendered, container).items():
                if SENSITIVE_ENV.search(key) and key != "KAFKA_SSL_CAFILE":
                    assert isinstance(value, dict) and "secretKeyRef" in value, (name, container["name"], key)
    for config_map in rendered.of("ConfigMap"):
        for key in config_map.get("data", {}):
            assert not SENSITIVE_ENV.search(key) or key == "KAFKA_SSL_CAFILE", (config_map["metadata"]["name"], key)


def test_each_service_gets_exactly_the_secrets_it_needs(rendered: Rendered) -> None:
    for name, deployment in deployments(rendered).items():
        env = resolved_env(rendered, main_container(deployment))
        secret_vars = {k for k, v in env.items() if isinstance(v, dict) and "secretKeyRef" in v}
        expected = {"DATABASE_URL", "KAFKA_SASL_PASSWORD"}  # no token key: tokens are verified with public keys
        expected |= {"CONTACT_SEALING_KEY"} if name in SEALS_CONTACTS else set()
        expected |= {"LEDGER_SIGNING_KEY", "LEDGER_DATABASE_URL"} if name in SIGNS_LEDGER else set()
        assert secret_vars == expected, name
        assert env["KAFKA_SASL_PASSWORD"]["secretKeyRef"]["name"] == name  # the KafkaUser's own Secret
        assert env["KAFKA_SASL_USERNAME"] == name


# ---------------------------------------------------------------------------------------------- Kafka


def grants(user: dict) -> set[tuple[str, str, str]]:
    out = set()
    for acl in user["spec"]["authorization"]["acls"]:
        resource = acl["resource"]
        assert resource.get("patternType", "literal") == "literal" or user["metadata"]["name"] == "dlq-reader", acl
        for op in acl["operations"]:
            out.add((resource["type"], resource["name"], op))
    return out


def test_each_service_produces_only_events_of_its_own_topic() -> None:
    """The ACLs below follow topics.PRODUCES; this holds PRODUCES to the event classes services publish."""
    for service in T.SERVICES:  # readers (the portal) publish nothing
        module = importlib.import_module(f"shared.contracts.{service}")
        assert module.EVENTS, service
        assert {cls.topic for cls in module.EVENTS} == {T.PRODUCES[service]}, service
    ingest = importlib.import_module("shared.contracts.ingest")
    assert {cls.topic for cls in ingest.EVENTS} <= set(T.EXTERNAL_PRODUCES.values())


def test_each_services_kafka_acls_match_what_it_produces_and_consumes(rendered: Rendered) -> None:
    for service in SERVICES:
        consumed = T.CONSUMES.get(service, ())
        expected = {("topic", t, op) for t in consumed for op in ("Read", "Describe")}
        expected |= {("group", service, op) for op in ("Read", "Describe")} if consumed else set()
        # A reader (the portal) publishes nothing: no topic of its own to write.
        expected |= {("topic", T.PRODUCES[service], op) for op in ("Write", "Describe")} if service in T.PRODUCES else set()
        # Dead letters leave through the service's own outbox relay.
        expected |= {("topic", T.dlq(t), op) for t in consumed for op in ("Write", "Describe")}
        user = rendered.named("KafkaUser", service)
        assert user["spec"]["authentication"]["type"] in ("scram-sha-512", "tls")
        assert grants(user) == expected, service


def test_no_kafka_user_may_administer_the_cluster(rendered: Rendered) -> None:
    for user in rendered.of("KafkaUser"):
        for kind, _, op in grants(user):
            assert kind in ("topic", "group"), user["metadata"]["name"]
            assert op in ("Read", "Write", "Describe"), user["metadata"]["name"]


def test_every_topic_of_the_code_exists_with_its_partition_count(rendered: Rendered) -> None:
    topics = {t["spec"]["topicName"]: t["spec"] for t in rendered.of("KafkaTopic")}
    assert set(topics) == set(T.ALL_TOPICS)
    for name, spec in topics.items():
        assert spec["partitions"] == T.PARTITIONS[name], name


def test_replication_fits_the_brokers_and_survives_one_loss_in_the_city(rendered: Rendered) -> None:
    [kafka] = rendered.of("Kafka")
    brokers = sum(p["spec"]["replicas"] for p in rendered.of("KafkaNodePool") if "broker" in p["spec"]["roles"])
    config = kafka["spec"]["kafka"]["config"]
    assert config["auto.create.topics.enable"] is False
    for topic in rendered.of("KafkaTopic"):
        assert topic["spec"]["replicas"] <= brokers
    assert config["offsets.topic.replication.factor"] <= brokers
    assert config["min.insync.replicas"] <= config["default.replication.factor"]
    if rendered.overlay == "city":
        assert brokers >= 3 and config["min.insync.replicas"] == 2
        assert all(t["spec"]["replicas"] == 3 for t in rendered.of("KafkaTopic"))


def test_clients_reach_kafka_only_over_tls_with_a_user(rendered: Rendered) -> None:
    [kafka] = rendered.of("Kafka")
    assert kafka["spec"]["kafka"]["authorization"]["type"] == "simple"
    for listener in kafka["spec"]["kafka"]["listeners"]:
        assert listener["tls"] is True, listener["name"]
        assert listener["authentication"]["type"] == "scram-sha-512", listener["name"]
    bootstrap = {resolved_env(rendered, main_container(d))["KAFKA_BOOTSTRAP_SERVERS"] for d in deployments(rendered).values()}
    tls_port = {listener["port"] for listener in kafka["spec"]["kafka"]["listeners"] if listener["type"] == "internal"}
    assert bootstrap == {f"{kafka['metadata']['name']}-kafka-bootstrap:{port}" for port in tls_port}


def test_the_kafka_exporter_watches_every_consumer_group(rendered: Rendered) -> None:
    [kafka] = rendered.of("Kafka")
    pattern = re.compile(kafka["spec"]["kafkaExporter"]["groupRegex"])
    for service in SERVICES:
        assert bool(pattern.fullmatch(service)) == bool(T.CONSUMES.get(service)), service


# ---------------------------------------------------------------------------------------- autoscaling


def test_keda_never_scales_a_consumer_beyond_the_partitions_it_can_use(rendered: Rendered) -> None:
    scaled = {s["spec"]["scaleTargetRef"]["name"]: s for s in rendered.of("ScaledObject")}
    assert set(scaled) == set(SERVICES)
    for service, obj in scaled.items():
        spec = obj["spec"]
        consumed = T.CONSUMES.get(service, ())
        ceiling = max(T.PARTITIONS[t] for t in consumed) if consumed else T.PARTITIONS[T.PRODUCES[service]]
        assert 1 <= spec["minReplicaCount"] <= spec["maxReplicaCount"] <= ceiling, service
        kafka = [t for t in spec["triggers"] if t["type"] == "kafka"]
        if consumed:
            [trigger] = kafka
            assert trigger["metadata"]["consumerGroup"] == service
            assert trigger["metadata"]["allowIdleConsumers"] == "false"
            auth = rendered.named("TriggerAuthentication", trigger["authenticationRef"]["name"])
            assert {r["name"] for r in auth["spec"]["secretTargetRef"] if r["parameter"] == "password"} == {service}
        else:
            assert not kafka, service


def test_the_city_keeps_two_pods_of_every_service(overlays: dict[str, Rendered]) -> None:
    assert {s["spec"]["minReplicaCount"] for s in overlays["city"].of("ScaledObject")} == {2}


def test_the_city_prescales_every_consumer_of_attendance_for_the_evening_surge(overlays: dict[str, Rendered]) -> None:
    readers = {s for s in SERVICES if T.ATTENDANCE_EVENTS in T.CONSUMES.get(s, ()) or T.ATTENDANCE_INGEST in T.CONSUMES.get(s, ())}
    for obj in overlays["city"].of("ScaledObject"):
        crons = [t for t in obj["spec"]["triggers"] if t["type"] == "cron"]
        name = obj["spec"]["scaleTargetRef"]["name"]
        assert bool(crons) == (name in readers), name
        for cron in crons:
            meta = cron["metadata"]
            assert meta["timezone"] == "Asia/Shanghai"
            start_hour, end_hour = int(meta["start"].split()[1]), int(meta["end"].split()[1])
            assert start_hour <= 16 and end_hour >= 19, "the pickup surge runs from about 16:30 to 19:00"
            assert obj["spec"]["minReplicaCount"] < int(meta["desiredReplicas"]) <= obj["spec"]["maxReplicaCount"]


# ----------------------------------------------------------------------------------- network policies


def egress_ports(policy: dict) -> set[int]:
    return {p["port"] for rule in policy["spec"].get("egress", []) for p in rule.get("ports", [])}


def test_each_service_may_reach_only_dns_kafka_and_its_own_database(rendered: Rendered) -> None:
    policies = rendered.of("NetworkPolicy")
    for name, deployment in deployments(rendered).items():
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        [policy] = [p for p in policies if selects(p["spec"]["podSelector"], labels)]
        assert set(policy["spec"]["policyTypes"]) == {"Ingress", "Egress"}, name
        # Over HTTPS outside the cluster: notification to the SMS and push providers, audit to the witnesses
        # that cosign its checkpoints (issue 17), which other operators run.
        outside = name in ("notification", "audit")
        # The portal asks audit (proofs, receipts, keys), enrollment (reports, pickup persons) and notification
        # (a guardian's message settings) over HTTP (issue 18).
        asks = set(SPECS[name].calls)
        allowed_ports = {53, 9093, 5432} | ({443} if outside else set()) | ({HTTP_PORT} if asks else set())
        assert egress_ports(policy) == allowed_ports, name
        services = {peer["podSelector"]["matchLabels"]["app.kubernetes.io/name"]
                    for rule in policy["spec"]["egress"] for peer in rule["to"]
                    if "app.kubernetes.io/name" in peer.get("podSelector", {}).get("matchLabels", {})}
        assert services == asks, name
        databases = [peer["podSelector"]["matchLabels"]["cnpg.io/cluster"]
                     for rule in policy["spec"]["egress"] for peer in rule["to"]
                     if "cnpg.io/cluster" in peer.get("podSelector", {}).get("matchLabels", {})]
        assert databases == [f"pg-{name}"], name
        internet = [peer for rule in policy["spec"]["egress"] for peer in rule["to"] if "ipBlock" in peer]
        assert bool(internet) == outside, name


def test_no_service_accepts_traffic_from_another_service_but_the_portal_it_answers(rendered: Rendered) -> None:
    """Services talk through Kafka; the one exception is the portal asking audit, enrollment and notification
    (issue 18)."""
    for policy in rendered.of("NetworkPolicy"):
        name = policy["spec"]["podSelector"].get("matchLabels", {}).get("app.kubernetes.io/name")
        if name is None:
            continue
        callers = set()
        for rule in policy["spec"]["ingress"]:
            for peer in rule["from"]:
                if "podSelector" in peer:
                    callers.add(peer["podSelector"]["matchLabels"]["app.kubernetes.io/name"])
                else:
                    assert set(peer["namespaceSelector"]["matchLabels"].values()) <= {"ingress-nginx", "monitoring"}
            assert [p["port"] for p in rule["ports"]] == ["http"]
        assert callers == {s.name for s in SPECS.values() if name in s.calls}, name
        assert callers <= {"portal"}, name


def test_each_database_accepts_only_its_own_service(rendered: Rendered) -> None:
    for service in SERVICES:
        policy = rendered.named("NetworkPolicy", f"pg-{service}")
        assert policy["spec"]["podSelector"]["matchLabels"] == {"cnpg.io/cluster": f"pg-{service}"}
        app_peers = [peer["podSelector"]["matchLabels"]["app.kubernetes.io/name"]
                     for rule in policy["spec"]["ingress"] for peer in rule["from"]
                     if "app.kubernetes.io/name" in peer.get("podSelector", {}).get("matchLabels", {})]
        assert app_peers == [service]


def test_the_kafka_listener_admits_the_service_pods(rendered: Rendered) -> None:
    [kafka] = rendered.of("Kafka")
    [internal] = [listener for listener in kafka["spec"]["kafka"]["listeners"] if listener["type"] == "internal"]
    peer_selectors = [p["podSelector"] for p in internal["networkPolicyPeers"] if "podSelector" in p]
    for name, deployment in deployments(rendered).items():
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        assert any(selects(sel, labels) for sel in peer_selectors), name


# ---------------------------------------------------------------------------------- PostgreSQL, backups


def test_every_service_has_its_own_database_cluster(rendered: Rendered) -> None:
    for service in SERVICES:
        cluster = rendered.named("Cluster", f"pg-{service}")
        assert cluster["spec"]["bootstrap"]["initdb"] == {"database": service, "owner": service}
        env = resolved_env(rendered, main_container(deployments(rendered)[service]))
        assert env["DATABASE_URL"]["secretKeyRef"] == {"name": f"pg-{service}-app", "key": "uri"}


def test_the_city_backs_up_every_database_and_the_ledger_longest(overlays: dict[str, Rendered]) -> None:
    city = overlays["city"]
    stores = {s["metadata"]["name"]: s for s in city.of("ObjectStore")}
    for service in SERVICES:
        cluster = city.named("Cluster", f"pg-{service}")
        [plugin] = cluster["spec"]["plugins"]
        assert plugin["isWALArchiver"] is True
        assert plugin["parameters"]["barmanObjectName"] in stores
        [backup] = [b for b in city.of("ScheduledBackup") if b["spec"]["cluster"]["name"] == f"pg-{service}"]
        assert backup["spec"]["method"] == "plugin"
        # Six-field cron in UTC: 18:00 UTC is 02:00 in Asia/Shanghai, far from the evening pickup surge.
        hour_utc = int(backup["spec"]["schedule"].split()[2])
        assert (hour_utc + 8) % 24 < 6, backup["metadata"]["name"]
        assert cluster["spec"]["instances"] == 3 and cluster["spec"]["enablePDB"] is True
    ledger_store = city.named("Cluster", "pg-audit")["spec"]["plugins"][0]["parameters"]["barmanObjectName"]
    months = {name: _months(s["spec"]["retentionPolicy"]) for name, s in stores.items()}
    assert months[ledger_store] == max(months.values()) and months[ledger_store] >= 60


def _months(policy: str) -> float:
    value, unit = int(policy[:-1]), policy[-1]
    return {"d": value / 30, "w": value / 4.3, "m": value}[unit]


def test_dev_has_single_instances_and_no_backups(overlays: dict[str, Rendered]) -> None:
    dev = overlays["dev"]
    assert not dev.of("ScheduledBackup") and not dev.of("ObjectStore")
    for cluster in dev.of("Cluster"):
        assert cluster["spec"]["instances"] == 1
        assert cluster["spec"]["enablePDB"] is False  # a single instance's PDB would block node drains
        assert "plugins" not in cluster["spec"]


# ---------------------------------------------------------------------------------------- generation


def test_the_generated_manifests_are_up_to_date_with_the_code() -> None:
    stale = generate.stale()
    assert not stale, f"run `python -m deploy.k8s.generate`; out of date: {[str(p) for p in stale]}"

