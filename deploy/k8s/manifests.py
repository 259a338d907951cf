"""The Kubernetes objects that follow from the code: Kafka topics and users from shared/contracts/topics.py,
and each service's workload (Deployment, Service, PDB, NetworkPolicy, KEDA scaler, database cluster).
Pure functions returning dicts; writing files is generate.py's job, and nothing here talks to a cluster."""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from shared.contracts import topics as T

KAFKA_CLUSTER = "beilei"
# Strimzi names: the bootstrap Service of the TLS listener, and the Secret holding the cluster CA.
KAFKA_BOOTSTRAP = f"{KAFKA_CLUSTER}-kafka-bootstrap:9093"
KAFKA_CA_SECRET = f"{KAFKA_CLUSTER}-cluster-ca-cert"
KAFKA_CA_DIR = "/etc/beilei/kafka-ca"
HTTP_PORT = 8080
TOPIC_REPLICAS = 3
# Namespaces allowed to reach the services' HTTP port: the ingress controller (guardians, schools,
# auditors) and Prometheus (/metrics). Overlays patch these where a cluster names them differently.
INGRESS_NAMESPACE = "ingress-nginx"
MONITORING_NAMESPACE = "monitoring"
CNPG_NAMESPACE = "cnpg-system"
RUN_AS = 10001

DAY_MS = 24 * 3600 * 1000
# How long records stay readable: events a week (replays after an incident), raw ingest three days
# (attendance republishes what it accepts), dead letters a month (someone has to look at each one).
RETENTION_MS = {
    **{t: 7 * DAY_MS for t in T.EVENT_TOPICS},
    T.ATTENDANCE_INGEST: 3 * DAY_MS,
    **{t: 30 * DAY_MS for t in T.DLQ_TOPICS},
}

DLQ_READER_USER = "dlq-reader"
# A school system's producer is capped so one runaway gate system cannot starve the brokers (R15).
SCHOOL_SYSTEMS_PRODUCER_BYTES_PER_SECOND = 2 * 1024 * 1024
SCHOOL_SYSTEM_USER_PREFIX = "school-system-"
SCHOOL_ID_ANNOTATION = "beilei.io/school-id"


@dataclass(frozen=True)
class SecretEnv:
    """An environment variable whose value comes from a key of a Secret, never from the manifest."""

    env: str
    secret: str
    key: str


@dataclass(frozen=True)
class Resources:
    cpu_request: str
    memory_request: str
    cpu_limit: str
    memory_limit: str

    def as_dict(self) -> dict:
        return {
            "requests": {"cpu": self.cpu_request, "memory": self.memory_request},
            "limits": {"cpu": self.cpu_limit, "memory": self.memory_limit},
        }


@dataclass(frozen=True)
class ServiceSpec:
    """What differs between the five services' workloads; everything else is the same shape."""

    name: str
    secrets: tuple[SecretEnv, ...] = ()
    env_from_secrets: tuple[str, ...] = ()
    # Notification hands messages to SMS and push providers outside the cluster (R22).
    egress_https_internet: bool = False
    resources: Resources = Resources("100m", "256Mi", "1", "512Mi")
    storage: str = "10Gi"
    # Plain settings of this service only (its settings module), in a ConfigMap overlays can patch.
    config: tuple[tuple[str, str], ...] = ()
    # Extra PostgreSQL roles the operator keeps for this service (CloudNativePG managed roles).
    database_roles: tuple[dict, ...] = ()
    # Services whose HTTP this one asks (the portal: audit's proofs, enrollment's reports, a guardian's
    # preferences at notification).
    calls: tuple[str, ...] = ()
    # The public host an Ingress routes to it (the portal); overlays set the real host name.
    public_host: str | None = None


# Tokens are signed by the city's identity provider; services hold only its public keys (a JWKS), mounted
# from a ConfigMap the operators keep in step with the provider's jwks_uri (docs/security.md). Mounted as a
# directory, not with subPath, so the kubelet's updates reach running pods and a key rotation needs no restart.
AUTH_JWKS_CONFIGMAP = "beilei-auth-jwks"
AUTH_JWKS_DIR = "/etc/beilei/auth"
CONTACT_SEALING = SecretEnv("CONTACT_SEALING_KEY", "beilei-contact-sealing", "contact-sealing-key")
# services/audit/settings.py: the Ed25519 checkpoint signer, and the URL of the insert-and-select-only
# role the service writes the ledger with (R24).
LEDGER_SIGNING = SecretEnv("LEDGER_SIGNING_KEY", "audit-ledger-signing", "signing-key")
LEDGER_WRITER = SecretEnv("LEDGER_DATABASE_URL", "pg-audit-writer", "uri")
# services/notification/settings.py: provider credentials (ALIYUN_ACCESS_KEY_ID, ..._SECRET,
# TENCENT_SECRET_ID, ..._KEY, JPUSH_APP_KEY, JPUSH_MASTER_SECRET), all as keys of one Secret.
NOTIFICATION_PROVIDERS = "notification-providers"

# The audit migration makes the ledger tables belong to audit_ledger_owner, a role nobody logs in as, and
# grants audit_writer only INSERT and SELECT on them. CloudNativePG's application owner cannot create
# roles, so the operator keeps both roles and lets the owner act for audit_ledger_owner while migrating.
AUDIT_DATABASE_ROLES = (
    {"name": "audit_ledger_owner", "ensure": "present", "login": False,
     "comment": "Owns the ledger tables; no one logs in as it (R24)."},
    {"name": "audit", "ensure": "present", "login": True, "inRoles": ["audit_ledger_owner"],
     "passwordSecret": {"name": "pg-audit-app"}},
    {"name": "audit_writer", "ensure": "present", "login": True,
     "comment": "The audit service's own role: INSERT and SELECT on the ledger, nothing more (R24).",
     "passwordSecret": {"name": "pg-audit-writer"}},
)

SPECS: dict[str, ServiceSpec] = {
    "enrollment": ServiceSpec("enrollment", secrets=(CONTACT_SEALING,)),
    "attendance": ServiceSpec(
        "attendance", resources=Resources("250m", "384Mi", "2", "768Mi"), storage="50Gi"
    ),
    "billing": ServiceSpec("billing", storage="20Gi"),
    "notification": ServiceSpec(
        "notification",
        secrets=(CONTACT_SEALING,),
        env_from_secrets=(NOTIFICATION_PROVIDERS,),
        egress_https_internet=True,
        storage="20Gi",
        # The real providers (credentials from notification-providers): the local sink serves the whole
        # message log, children's names and pickups included, so only the dev overlay chooses it (R27).
        config=(("SMS_PROVIDER", "aliyun"), ("PUSH_PROVIDER", "jpush")),
    ),
    "audit": ServiceSpec(
        "audit",
        secrets=(LEDGER_SIGNING, LEDGER_WRITER),
        storage="50Gi",
        # The ledger's identity in every signed checkpoint: fixed for the life of the ledger. The witnesses
        # that cosign its checkpoints ('<URL> <verifier key>', comma separated, any number; k of n by
        # LEDGER_WITNESS_QUORUM, default all) are the operators' choice: an overlay or `kubectl edit` sets
        # them (docs/audit.md, section 3a); empty, nothing is cosigned.
        config=(("LEDGER_ORIGIN", "beilei.city/audit-ledger"), ("LEDGER_WITNESSES", "")),
        # The witnesses run outside the cluster, by other operators (C2SP tlog-witness over HTTPS): the
        # pods must reach them to have checkpoints cosigned (issue 17).
        egress_https_internet=True,
        database_roles=AUDIT_DATABASE_ROLES,
    ),
    # The web portal (issue 18): parents open its pages from SMS links at the evening surge, so it scales on
    # CPU like the others; it asks audit, enrollment and notification over HTTP and is the one service behind a
    # public host.
    "portal": ServiceSpec(
        "portal",
        storage="10Gi",
        config=(("AUDIT_URL", "http://audit"), ("ENROLLMENT_URL", "http://enrollment"),
                ("NOTIFICATION_URL", "http://notification"), ("DEV_SIGNIN", "false"), ("COOKIE_SECURE", "true")),
        calls=("audit", "enrollment", "notification"),
        public_host="portal.beilei.example",
    ),
}
assert tuple(SPECS) == T.WORKLOADS, "every service in topics.WORKLOADS needs a workload spec"


def labels(name: str) -> dict[str, str]:
    return {"app.kubernetes.io/name": name, "app.kubernetes.io/component": "service"}


def topic_object_name(topic: str) -> str:
    """KafkaTopic names are DNS labels; the real name goes in spec.topicName."""
    return topic.replace(".", "-")


def pg_cluster(service: str) -> str:
    return f"pg-{service}"


def pg_app_secret(service: str) -> str:
    """CloudNativePG writes the owner's credentials and a ready `uri` into `<cluster>-app`."""
    return f"{pg_cluster(service)}-app"


# --------------------------------------------------------------------------------------------- Kafka


def kafka_topics() -> list[dict]:
    return [
        {
            "apiVersion": "kafka.strimzi.io/v1beta2",
            "kind": "KafkaTopic",
            "metadata": {"name": topic_object_name(t), "labels": {"strimzi.io/cluster": KAFKA_CLUSTER}},
            "spec": {
                "topicName": t,
                "partitions": T.PARTITIONS[t],
                "replicas": TOPIC_REPLICAS,
                "config": {"retention.ms": RETENTION_MS[t], "cleanup.policy": "delete", **_timestamps(t)},
            },
        }
        for t in T.ALL_TOPICS
    ]


def _timestamps(topic: str) -> dict:
    """School systems' records are stamped by the broker as it appends them: attendance judges a record's
    token by that time (a backlog read after its token lapsed), so a producer must not choose it."""
    return {"message.timestamp.type": "LogAppendTime"} if topic in T.EXTERNAL_PRODUCES.values() else {}


def _acl(kind: str, name: str, *operations: str, pattern: str = "literal") -> dict:
    return {
        "resource": {"type": kind, "name": name, "patternType": pattern},
        "operations": list(operations),
        "host": "*",
    }


def service_acls(service: str) -> list[dict]:
    """Least privilege, from topics.py: read what it consumes (in its own group), write its own topic
    and, through its outbox relay, the dead-letter topics of what it consumes. Nothing else."""
    consumed = T.CONSUMES.get(service, ())
    acls = [_acl("topic", t, "Describe", "Read") for t in consumed]
    if consumed:
        acls.append(_acl("group", service, "Describe", "Read"))
    if service in T.PRODUCES:
        acls.append(_acl("topic", T.PRODUCES[service], "Describe", "Write"))
    acls += [_acl("topic", T.dlq(t), "Describe", "Write") for t in consumed]
    return acls


def _kafka_user(name: str, acls: list[dict], quotas: dict | None = None) -> dict:
    spec: dict = {
        "authentication": {"type": "scram-sha-512"},
        "authorization": {"type": "simple", "acls": acls},
    }
    if quotas:
        spec["quotas"] = quotas
    return {
        "apiVersion": "kafka.strimzi.io/v1beta2",
        "kind": "KafkaUser",
        "metadata": {"name": name, "labels": {"strimzi.io/cluster": KAFKA_CLUSTER}},
        "spec": spec,
    }


def kafka_users() -> list[dict]:
    users = [_kafka_user(s, service_acls(s)) for s in T.WORKLOADS]
    # The bureau's IT team reads dead letters to find out why they could not be processed; read only.
    users += [
        _kafka_user(
            DLQ_READER_USER,
            [_acl("topic", t, "Describe", "Read") for t in T.DLQ_TOPICS]
            + [_acl("group", DLQ_READER_USER, "Describe", "Read", pattern="prefix")],
        )
    ]
    return users


def school_system_user_name(school_id: str) -> str:
    """The KafkaUser (and Secret, and Kafka principal) of one school's system: a valid Kubernetes name and
    label value; an id that does not fit as it is gets a digest of itself, so two schools never share one."""
    slug = re.sub(r"[^a-z0-9]+", "-", school_id.lower()).strip("-")
    name = SCHOOL_SYSTEM_USER_PREFIX + slug
    if slug != school_id or len(name) > 63:
        digest = hashlib.sha256(school_id.encode()).hexdigest()[:10]
        name = SCHOOL_SYSTEM_USER_PREFIX + "-".join(part for part in (slug[:38].strip("-"), digest) if part)
    return name


def school_system_users(school_ids: list[str]) -> list[dict]:
    """One Kafka principal per school system (R15, issue 15), each allowed to write the ingest topic and
    nothing else, with its own quota, so one school is revoked or throttled alone. Kafka ACLs cannot bind a
    record's key or payload to a school: the records themselves are signed with the school's token, which
    attendance checks against the school they speak for (docs/api.md)."""
    if len(set(school_ids)) != len(school_ids):
        raise ValueError("a school is listed twice")
    users = []
    for school_id in school_ids:
        user = _kafka_user(
            school_system_user_name(school_id),
            [_acl("topic", topic, "Describe", "Write") for topic in T.EXTERNAL_PRODUCES.values()],
            {"producerByteRate": SCHOOL_SYSTEMS_PRODUCER_BYTES_PER_SECOND},
        )
        user["metadata"]["annotations"] = {SCHOOL_ID_ANNOTATION: school_id}
        users.append(user)
    return users


# ------------------------------------------------------------------------------------------ services


def max_replicas(service: str) -> int:
    """A consumer group never uses more members than the partitions of its biggest topic: a pod beyond
    that would sit idle, so KEDA's ceiling is that partition count."""
    consumed = T.CONSUMES.get(service, ())
    if consumed:
        return max(T.PARTITIONS[t] for t in consumed)
    # A service that consumes nothing scales for HTTP load only; its own topic bounds it for symmetry.
    return T.PARTITIONS[T.PRODUCES[service]]


def _restricted_container_security() -> dict:
    return {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "runAsNonRoot": True,
        "runAsUser": RUN_AS,
        "runAsGroup": RUN_AS,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def _secret_env(s: SecretEnv) -> dict:
    return {"name": s.env, "valueFrom": {"secretKeyRef": {"name": s.secret, "key": s.key}}}


def common_config() -> dict:
    """Settings every service reads the same way; one ConfigMap so an overlay changes them once."""
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "beilei-common"},
        "data": {
            "HTTP_HOST": "0.0.0.0",
            "HTTP_PORT": str(HTTP_PORT),
            "LOG_LEVEL": "INFO",
            # Migrations run in the init container and Strimzi owns the topics (KafkaTopic objects).
            "MIGRATE_ON_START": "false",
            "CREATE_TOPICS": "false",
            "KAFKA_BOOTSTRAP_SERVERS": KAFKA_BOOTSTRAP,
            "KAFKA_SSL_CAFILE": f"{KAFKA_CA_DIR}/ca.crt",
            # The identity provider's `iss` and the `aud` it puts in Beilei's tokens: an overlay sets the city's.
            "AUTH_JWKS": f"{AUTH_JWKS_DIR}/jwks.json",
            "AUTH_ISSUER": "beilei",
            "AUTH_AUDIENCE": "beilei-api",
        },
    }


def service_config(spec: ServiceSpec) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": f"{spec.name}-config", "labels": labels(spec.name)},
        "data": dict(spec.config),
    }


def deployment(spec: ServiceSpec) -> dict:
    name = spec.name
    database_url = SecretEnv("DATABASE_URL", pg_app_secret(name), "uri")
    env = [
        {"name": "KAFKA_SASL_USERNAME", "value": name},
        # Strimzi's User Operator keeps the KafkaUser's password in a Secret named after the user.
        _secret_env(SecretEnv("KAFKA_SASL_PASSWORD", name, "password")),
        _secret_env(database_url),
        *(_secret_env(s) for s in spec.secrets),
    ]
    env_from = [{"configMapRef": {"name": "beilei-common"}}, {"configMapRef": {"name": f"{name}-config"}}]
    env_from += [{"secretRef": {"name": s}} for s in spec.env_from_secrets]
    probe = {"httpGet": {"path": "/health/live", "port": "http"}}
    container = {
        "name": name,
        "image": f"beilei/{name}",
        "imagePullPolicy": "IfNotPresent",
        "ports": [{"name": "http", "containerPort": HTTP_PORT, "protocol": "TCP"}],
        "envFrom": env_from,
        "env": env,
        # Startup allows the broker connection and consumer-group join; liveness never depends on Kafka
        # or PostgreSQL (a broker outage must not restart every pod); readiness does.
        "startupProbe": {**probe, "periodSeconds": 2, "failureThreshold": 60, "timeoutSeconds": 2},
        "livenessProbe": {**probe, "periodSeconds": 10, "failureThreshold": 3, "timeoutSeconds": 3},
        "readinessProbe": {
            "httpGet": {"path": "/health/ready", "port": "http"},
            "periodSeconds": 5,
            "failureThreshold": 3,
            "timeoutSeconds": 3,
        },
        "resources": spec.resources.as_dict(),
        "securityContext": _restricted_container_security(),
        # Let the Service drop this pod from its endpoints before SIGTERM starts the drain.
        "lifecycle": {"preStop": {"sleep": {"seconds": 5}}},
        "volumeMounts": [
            {"name": "kafka-ca", "mountPath": KAFKA_CA_DIR, "readOnly": True},
            {"name": "auth-jwks", "mountPath": AUTH_JWKS_DIR, "readOnly": True},
            {"name": "tmp", "mountPath": "/tmp"},
        ],
    }
    migrate = {
        "name": "migrate",
        "image": f"beilei/{name}",
        "imagePullPolicy": "IfNotPresent",
        # Replicas starting together serialise on an advisory lock inside migrate.upgrade.
        "command": ["python", "-m", "shared.messaging.migrate", name],
        "env": [_secret_env(database_url)],
        "resources": Resources("50m", "128Mi", "500m", "256Mi").as_dict(),
        "securityContext": _restricted_container_security(),
        "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],
    }
    pod_labels = {
        **labels(name),
        "app.kubernetes.io/part-of": "beilei",
        # Strimzi admits only pods with this label to the Kafka listener (networkPolicyPeers).
        "beilei.city/kafka-client": "true",
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "labels": labels(name)},
        "spec": {
            # No replicas field: KEDA's ScaledObject owns the count.
            "revisionHistoryLimit": 5,
            "selector": {"matchLabels": {"app.kubernetes.io/name": name}},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}},
            "template": {
                "metadata": {"labels": pod_labels},
                "spec": {
                    "serviceAccountName": name,
                    "automountServiceAccountToken": False,
                    # uvicorn's 30 s graceful shutdown covers the batch in flight and the relay's drain.
                    "terminationGracePeriodSeconds": 60,
                    "securityContext": {
                        "runAsNonRoot": True,
                        "runAsUser": RUN_AS,
                        "runAsGroup": RUN_AS,
                        "fsGroup": RUN_AS,
                        "seccompProfile": {"type": "RuntimeDefault"},
                    },
                    "topologySpreadConstraints": [
                        {
                            "maxSkew": 1,
                            "topologyKey": "kubernetes.io/hostname",
                            "whenUnsatisfiable": "ScheduleAnyway",
                            "labelSelector": {"matchLabels": {"app.kubernetes.io/name": name}},
                        }
                    ],
                    "initContainers": [migrate],
                    "containers": [container],
                    "volumes": [
                        {
                            "name": "kafka-ca",
                            "secret": {"secretName": KAFKA_CA_SECRET, "items": [{"key": "ca.crt", "path": "ca.crt"}]},
                        },
                        {
                            "name": "auth-jwks",
                            "configMap": {"name": AUTH_JWKS_CONFIGMAP,
                                          "items": [{"key": "jwks.json", "path": "jwks.json"}]},
                        },
                        {"name": "tmp", "emptyDir": {"medium": "Memory", "sizeLimit": "64Mi"}},
                    ],
                },
            },
        },
    }


def service_account(name: str) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": {"name": name, "labels": labels(name)},
        "automountServiceAccountToken": False,
    }


def service(name: str) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "labels": labels(name)},
        "spec": {
            "selector": {"app.kubernetes.io/name": name},
            "ports": [{"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}],
        },
    }


def pod_disruption_budget(name: str) -> dict:
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": {"name": name, "labels": labels(name)},
        # One pod at a time: a drain never stops a whole consumer group, and never blocks with 1 replica.
        "spec": {"maxUnavailable": 1, "selector": {"matchLabels": {"app.kubernetes.io/name": name}}},
    }


def _namespace(name: str) -> dict:
    return {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": name}}}


def network_policy(spec: ServiceSpec) -> dict:
    """Services talk through Kafka: HTTP comes from the ingress controller and Prometheus, and from the portal
    to the two services it asks (audit's proofs, enrollment's reports); a pod reaches DNS, the Kafka brokers,
    its own database and, over HTTPS, the providers (notification) or the witnesses (audit)."""
    name = spec.name
    callers = sorted(s.name for s in SPECS.values() if name in s.calls)
    egress = [
        {
            "to": [{**_namespace("kube-system"), "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}}}],
            "ports": [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}],
        },
        {
            "to": [{"podSelector": {"matchLabels": {"strimzi.io/cluster": KAFKA_CLUSTER, "strimzi.io/broker-role": "true"}}}],
            "ports": [{"port": 9093, "protocol": "TCP"}],
        },
        {
            "to": [{"podSelector": {"matchLabels": {"cnpg.io/cluster": pg_cluster(name)}}}],
            "ports": [{"port": 5432, "protocol": "TCP"}],
        },
    ]
    for callee in spec.calls:
        egress.append({"to": [{"podSelector": {"matchLabels": {"app.kubernetes.io/name": callee}}}],
                       "ports": [{"port": HTTP_PORT, "protocol": "TCP"}]})
    if spec.egress_https_internet:
        egress.append(
            {
                "to": [{"ipBlock": {"cidr": "0.0.0.0/0", "except": ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"]}}],
                "ports": [{"port": 443, "protocol": "TCP"}],
            }
        )
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": name, "labels": labels(name)},
        "spec": {
            "podSelector": {"matchLabels": {"app.kubernetes.io/name": name}},
            "policyTypes": ["Ingress", "Egress"],
            "ingress": [
                {
                    "from": [_namespace(INGRESS_NAMESPACE), _namespace(MONITORING_NAMESPACE)]
                    + [{"podSelector": {"matchLabels": {"app.kubernetes.io/name": caller}}} for caller in callers],
                    "ports": [{"port": "http", "protocol": "TCP"}],
                }
            ],
            "egress": egress,
        },
    }


def trigger_authentication(name: str) -> dict:
    return {
        "apiVersion": "keda.sh/v1alpha1",
        "kind": "TriggerAuthentication",
        "metadata": {"name": f"{name}-kafka", "labels": labels(name)},
        "spec": {
            # KEDA reads the lag as the service's own KafkaUser, whose ACLs already allow describing its group.
            "env": [{"parameter": "username", "name": "KAFKA_SASL_USERNAME", "containerName": name}],
            "secretTargetRef": [
                {"parameter": "password", "name": name, "key": "password"},
                {"parameter": "ca", "name": KAFKA_CA_SECRET, "key": "ca.crt"},
            ],
        },
    }


def scaled_object(name: str) -> dict:
    triggers: list[dict] = []
    if T.CONSUMES.get(name):
        triggers.append(
            {
                "type": "kafka",
                # No topic: KEDA sums the lag over every topic the group reads.
                "metadata": {
                    "bootstrapServers": KAFKA_BOOTSTRAP,
                    "consumerGroup": name,
                    "lagThreshold": "1000",
                    "offsetResetPolicy": "earliest",
                    "allowIdleConsumers": "false",
                    "sasl": "scram_sha512",
                    "tls": "enable",
                },
                "authenticationRef": {"name": f"{name}-kafka"},
            }
        )
    # HTTP load (guardians' applications, school systems' batches) shows up as CPU, not as lag.
    triggers.append({"type": "cpu", "metricType": "Utilization", "metadata": {"value": "75"}})
    return {
        "apiVersion": "keda.sh/v1alpha1",
        "kind": "ScaledObject",
        "metadata": {"name": name, "labels": labels(name)},
        "spec": {
            "scaleTargetRef": {"name": name},
            "minReplicaCount": 1,
            "maxReplicaCount": max_replicas(name),
            "pollingInterval": 15,
            "cooldownPeriod": 300,
            "advanced": {
                "horizontalPodAutoscalerConfig": {
                    "behavior": {
                        # Up fast for the evening surge; down slowly, one pod a minute, to avoid rebalance storms.
                        "scaleUp": {"stabilizationWindowSeconds": 0, "policies": [{"type": "Percent", "value": 100, "periodSeconds": 30}]},
                        "scaleDown": {"stabilizationWindowSeconds": 300, "policies": [{"type": "Pods", "value": 1, "periodSeconds": 60}]},
                    }
                }
            },
            "triggers": triggers,
        },
    }


def ingress(spec: ServiceSpec) -> dict:
    """The public host of the portal (issue 18). Its pages set their own Cache-Control (public pages for a
    minute with an ETag, signed-in pages private), which the controller passes through; TLS from the
    cluster's certificate manager, the secret named after the host."""
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": {"name": spec.name, "labels": labels(spec.name),
                     "annotations": {"nginx.ingress.kubernetes.io/proxy-body-size": "1m"}},
        "spec": {
            "ingressClassName": "nginx",
            "tls": [{"hosts": [spec.public_host], "secretName": f"{spec.name}-tls"}],
            "rules": [{"host": spec.public_host, "http": {"paths": [{
                "path": "/", "pathType": "Prefix",
                "backend": {"service": {"name": spec.name, "port": {"name": "http"}}}}]}}],
        },
    }


def service_objects(spec: ServiceSpec) -> list[dict]:
    objects = [
        service_account(spec.name),
        service_config(spec),
        deployment(spec),
        service(spec.name),
        pod_disruption_budget(spec.name),
        network_policy(spec),
    ]
    if spec.public_host:
        objects.append(ingress(spec))
    if T.CONSUMES.get(spec.name):
        objects.append(trigger_authentication(spec.name))
    objects.append(scaled_object(spec.name))
    return objects


# ---------------------------------------------------------------------------------------- PostgreSQL


def postgres_cluster(spec: ServiceSpec) -> dict:
    name = spec.name
    cluster = {
        "apiVersion": "postgresql.cnpg.io/v1",
        "kind": "Cluster",
        "metadata": {"name": pg_cluster(name), "labels": labels(name)},
        "spec": {
            "instances": 3,
            "primaryUpdateStrategy": "unsupervised",
            # The service owns its database; its tables live in the schema named after it.
            "bootstrap": {"initdb": {"database": name, "owner": name}},
            "postgresql": {
                # Each pod pools up to 15 connections; 12 replicas at the surge ceiling need 180.
                "parameters": {"max_connections": "300", "shared_buffers": "256MB"},
            },
            "storage": {"size": spec.storage},
            "resources": {"requests": {"cpu": "250m", "memory": "1Gi"}, "limits": {"cpu": "2", "memory": "2Gi"}},
            "enablePDB": True,
            "affinity": {"podAntiAffinityType": "preferred"},
        },
    }
    if spec.database_roles:
        cluster["spec"]["managed"] = {"roles": [dict(role) for role in spec.database_roles]}
    return cluster


def postgres_network_policy(name: str) -> dict:
    """Only the owning service reaches its database; the cluster's own instances replicate; the operator
    manages them; Prometheus scrapes the exporter."""
    cluster = pg_cluster(name)
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": cluster, "labels": labels(name)},
        "spec": {
            "podSelector": {"matchLabels": {"cnpg.io/cluster": cluster}},
            "policyTypes": ["Ingress"],
            "ingress": [
                {
                    "from": [{"podSelector": {"matchLabels": {"app.kubernetes.io/name": name}}}],
                    "ports": [{"port": 5432, "protocol": "TCP"}],
                },
                {"from": [{"podSelector": {"matchLabels": {"cnpg.io/cluster": cluster}}}]},
                {
                    "from": [_namespace(CNPG_NAMESPACE)],
                    "ports": [{"port": 8000, "protocol": "TCP"}, {"port": 5432, "protocol": "TCP"}],
                },
                {"from": [_namespace(MONITORING_NAMESPACE)], "ports": [{"port": 9187, "protocol": "TCP"}]},
            ],
        },
    }


def postgres_objects() -> list[dict]:
    objects: list[dict] = []
    for spec in SPECS.values():
        objects += [postgres_cluster(spec), postgres_network_policy(spec.name)]
    return objects
