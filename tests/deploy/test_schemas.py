"""Every overlay renders, and every object in it is valid: standard objects against the Kubernetes
OpenAPI schemas (kubernetes-validate, strict), KEDA and Prometheus Operator resources against their CRD
schemas (npm @kubernetes-models), Strimzi and CloudNativePG resources against their required fields."""
from __future__ import annotations

import json
import subprocess

import jsonschema
import kubernetes_validate
import pytest

from tests.deploy.conftest import REPO, Rendered, render, tool
from tests.deploy.operator_schemas import SCHEMAS

# The oldest Kubernetes we support (preStop `sleep` is on by default from 1.30) and the newest schemas.
KUBERNETES_VERSIONS = ("1.30", kubernetes_validate.latest_version())
CRD_GROUPS_FROM_NPM = {"keda.sh", "monitoring.coreos.com"}
CRD_GROUPS_BY_REQUIRED_FIELDS = {"kafka.strimzi.io", "postgresql.cnpg.io", "barmancloud.cnpg.io"}
SCHEMA_PACKAGES = REPO / "tests" / "deploy" / "node_modules" / "@kubernetes-models"


def group(obj: dict) -> str:
    return obj["apiVersion"].split("/")[0] if "/" in obj["apiVersion"] else ""


def standard(objects: list[dict]) -> list[dict]:
    return [o for o in objects if group(o) not in CRD_GROUPS_FROM_NPM | CRD_GROUPS_BY_REQUIRED_FIELDS]


def test_every_overlay_renders_the_whole_platform(rendered: Rendered) -> None:
    kinds = {o["kind"] for o in rendered.objects}
    assert {"Namespace", "Deployment", "Service", "PodDisruptionBudget", "NetworkPolicy", "ScaledObject",
            "Kafka", "KafkaNodePool", "KafkaTopic", "KafkaUser", "Cluster", "ServiceMonitor", "PodMonitor",
            "PrometheusRule", "ConfigMap"} <= kinds
    [namespace] = rendered.of("Namespace")
    assert {o["metadata"].get("namespace") for o in rendered.objects if o["kind"] != "Namespace"} == {
        namespace["metadata"]["name"]
    }


def test_the_base_renders_on_its_own() -> None:
    objects = render(REPO / "deploy" / "k8s" / "base")
    assert len([o for o in objects if o["kind"] == "Deployment"]) == 6  # five services and the portal


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_standard_objects_match_the_kubernetes_schemas(rendered: Rendered, version: str) -> None:
    failures = []
    objects = standard(rendered.objects)
    assert objects, "nothing to validate"
    for obj in objects:
        try:
            kubernetes_validate.validate(obj, version, strict=True)
        except (kubernetes_validate.ValidationError, kubernetes_validate.SchemaNotFoundError) as err:
            failures.append(f"{obj['kind']}/{obj['metadata']['name']}: {err}")
    assert not failures, "\n".join(failures)


def test_the_kubernetes_schema_check_rejects_a_misspelt_field(rendered: Rendered) -> None:
    deployment = json.loads(json.dumps(rendered.of("Deployment")[0]))
    deployment["spec"]["template"]["spec"]["containers"][0]["livenesProbe"] = {"httpGet": {"port": 8080}}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBERNETES_VERSIONS[0], strict=True)


def validate_with_npm_schemas(objects: list[dict]) -> list[dict]:
    node = tool("node", "install Node.js (Debian nodejs), then `npm ci --prefix tests/deploy`")
    if not SCHEMA_PACKAGES.is_dir():
        pytest.fail("the CRD schema packages are missing: run `npm ci --prefix tests/deploy` (npm registry)")
    result = subprocess.run(
        [node, str(REPO / "tests" / "deploy" / "validate_custom_resources.mjs")],
        input=json.dumps(objects), capture_output=True, text=True, cwd=REPO / "tests" / "deploy",
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_keda_and_prometheus_resources_match_their_crd_schemas(rendered: Rendered) -> None:
    objects = [o for o in rendered.objects if group(o) in CRD_GROUPS_FROM_NPM]
    results = validate_with_npm_schemas(objects)
    assert {r["kind"] for r in results} == {"ScaledObject", "TriggerAuthentication", "ServiceMonitor",
                                             "PodMonitor", "PrometheusRule"}
    assert all(r["schema"] == "checked" for r in results)
    failures = [f"{r['kind']}/{r['name']}: {r['errors']}" for r in results if r["errors"]]
    assert not failures, "\n".join(failures)


def test_the_crd_schema_check_rejects_a_wrongly_typed_field(rendered: Rendered) -> None:
    scaled = json.loads(json.dumps(rendered.of("ScaledObject")[0]))
    scaled["spec"]["maxReplicaCount"] = "twelve"
    del scaled["spec"]["scaleTargetRef"]
    [result] = validate_with_npm_schemas([scaled])
    assert any("maxReplicaCount" in e for e in result["errors"])
    assert any("scaleTargetRef" in e for e in result["errors"])


def test_strimzi_and_cloudnativepg_resources_have_their_required_fields(rendered: Rendered) -> None:
    objects = [o for o in rendered.objects if group(o) in CRD_GROUPS_BY_REQUIRED_FIELDS]
    failures = []
    for obj in objects:
        schema = SCHEMAS.get((obj["apiVersion"], obj["kind"]))
        if schema is None:
            failures.append(f"no schema for {obj['apiVersion']} {obj['kind']}")
            continue
        for err in jsonschema.Draft202012Validator(schema).iter_errors(obj):
            failures.append(f"{obj['kind']}/{obj['metadata']['name']} at {list(err.absolute_path)}: {err.message}")
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize(
    ("kind", "path", "bad"),
    [
        ("KafkaUser", ("spec", "authorization", "acls", 0, "operations"), ["Reed"]),
        ("KafkaTopic", ("spec", "partitons"), 12),
        ("Cluster", ("spec", "instances"), "three"),
    ],
)
def test_the_required_field_check_rejects_a_broken_resource(rendered: Rendered, kind: str, path: tuple, bad: object) -> None:
    obj = json.loads(json.dumps(rendered.of(kind)[0]))
    node = obj
    for step in path[:-1]:
        node = node[step]
    node[path[-1]] = bad
    schema = SCHEMAS[(obj["apiVersion"], kind)]
    assert list(jsonschema.Draft202012Validator(schema).iter_errors(obj))
