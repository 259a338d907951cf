"""No service can mint a token (issue 15, R27): a service container sees the token issuer's public keys
(a JWKS in a ConfigMap) and nothing that signs: no token secret, no private key, no Secret of the issuer."""
from __future__ import annotations

import json
import re

from deploy.k8s import manifests
from tests.deploy.conftest import Rendered, containers
from tests.deploy.test_invariants import deployments, pod_spec, resolved_env

# What would let a holder sign a token: a shared secret of the old HS256 scheme, or the issuer's keys.
SIGNING_MATERIAL = re.compile(r"AUTH_SECRET|TOKEN|JWT|JWK|ISSUER|OIDC|OAUTH|CLIENT_SECRET", re.I)
# The settings a service verifies with (shared/settings.py): where the public keys are, whose, for whom.
VERIFYING_SETTINGS = {"AUTH_JWKS", "AUTH_ISSUER", "AUTH_AUDIENCE"}
# Members of a private JWK (RFC 7518 §6.2.2, §6.3.2, §6.4; RFC 8037 §2): a public JWKS has none.
PRIVATE_JWK_MEMBERS = {"d", "p", "q", "dp", "dq", "qi", "k"}


def _secret_names(container: dict, volumes: dict[str, dict]) -> set[str]:
    """Every Secret (name and key) a container can read: env, envFrom and mounted volumes."""
    names = {f"{v['valueFrom']['secretKeyRef']['name']}/{v['valueFrom']['secretKeyRef']['key']}"
             for v in container.get("env", []) if "secretKeyRef" in v.get("valueFrom", {})}
    names |= {s["secretRef"]["name"] for s in container.get("envFrom", []) if "secretRef" in s}
    for mount in container.get("volumeMounts", []):
        volume = volumes[mount["name"]]
        if "secret" in volume:
            names.add(volume["secret"]["secretName"])
        for source in volume.get("projected", {}).get("sources", []):
            if "secret" in source:
                names.add(source["secret"]["name"])
    return names


def test_no_service_container_can_read_a_token_signing_key(rendered: Rendered) -> None:
    for name, deployment in deployments(rendered).items():
        volumes = {v["name"]: v for v in pod_spec(deployment).get("volumes", [])}
        for container in containers(pod_spec(deployment)):
            env = resolved_env(rendered, container)
            named = [k for k in env if SIGNING_MATERIAL.search(k) and k not in VERIFYING_SETTINGS]
            assert not named, (name, container["name"], named)
            for value in (v for k, v in env.items() if k in VERIFYING_SETTINGS):
                assert isinstance(value, str) and "PRIVATE KEY" not in value and '"d"' not in value, (name, value)
            assert not [s for s in _secret_names(container, volumes) if SIGNING_MATERIAL.search(s) or "auth" in s], (
                name, container["name"])


def test_services_verify_with_a_jwks_mounted_from_a_configmap(rendered: Rendered) -> None:
    for name, deployment in deployments(rendered).items():
        [container] = [c for c in pod_spec(deployment)["containers"] if c["name"] == name]
        jwks = resolved_env(rendered, container)["AUTH_JWKS"]
        assert isinstance(jwks, str) and jwks.startswith(manifests.AUTH_JWKS_DIR + "/"), (name, jwks)
        [mount] = [m for m in container["volumeMounts"] if jwks.startswith(m["mountPath"] + "/")]
        assert mount.get("readOnly") and "subPath" not in mount, name  # subPath would freeze the keys (rotation)
        volume = {v["name"]: v for v in pod_spec(deployment)["volumes"]}[mount["name"]]
        assert set(volume) == {"name", "configMap"}, (name, volume)  # public keys: never a Secret


def test_no_configmap_carries_a_private_key(rendered: Rendered) -> None:
    for config_map in rendered.of("ConfigMap"):
        for key, value in config_map.get("data", {}).items():
            assert "PRIVATE KEY" not in value, (config_map["metadata"]["name"], key)
            try:
                document = json.loads(value)
            except ValueError:
                continue
            for jwk in document.get("keys", []) if isinstance(document, dict) else []:
                assert not PRIVATE_JWK_MEMBERS & set(jwk), (config_map["metadata"]["name"], key)
