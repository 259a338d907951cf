"""What the manifests ask of the kit holds: the Deployment's environment makes every Kafka client
authenticate with SCRAM over TLS, the init container's migration command works, and a second replica of
a service (whose outbox relay stands by) is ready, so scaling out and rolling updates can complete."""
from __future__ import annotations

import asyncio
import datetime as dt
import os
import subprocess
import sys
import uuid
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from shared.messaging.db import asyncpg_url
from shared.messaging.kafka import client_options
from shared.settings import CommonSettings
from tests.deploy.conftest import REPO, Rendered
from tests.deploy.test_invariants import deployments, main_container, resolved_env


def self_signed_ca(path: Path) -> Path:
    """A CA certificate like Strimzi's cluster CA, so ssl can load the file the Deployment points at."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "cluster-ca")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now).not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return path


def settings_from_deployment(rendered: Rendered, service: str, ca_file: Path, monkeypatch: pytest.MonkeyPatch) -> CommonSettings:
    """CommonSettings as the container would read them: Secret references become stand-in values."""
    for name in list(os.environ):
        if name.startswith(("KAFKA_", "DATABASE_", "AUTH_", "MIGRATE_", "CREATE_", "HTTP_")):
            monkeypatch.delenv(name, raising=False)
    for name, value in resolved_env(rendered, main_container(deployments(rendered)[service])).items():
        if isinstance(value, dict):
            value = f"stand-in-for-{value['secretKeyRef']['name']}/{value['secretKeyRef']['key']}"
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("KAFKA_SSL_CAFILE", str(ca_file))
    return CommonSettings()


@pytest.mark.parametrize("service", ["billing", "notification"])
def test_the_deployment_environment_makes_the_kit_use_scram_over_tls(
    overlays: dict[str, Rendered], service: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = settings_from_deployment(overlays["city"], service, self_signed_ca(tmp_path / "ca.crt"), monkeypatch)
    options = client_options(settings)
    assert options["security_protocol"] == "SASL_SSL"
    assert options["sasl_mechanism"] == "SCRAM-SHA-512"
    assert options["sasl_plain_username"] == service
    assert options["sasl_plain_password"] == f"stand-in-for-{service}/password"
    assert options["ssl_context"] is not None
    assert settings.migrate_on_start is False and settings.create_topics is False
    assert settings.http_host == "0.0.0.0" and settings.http_port == 8080


def test_without_kafka_credentials_the_kit_connects_in_plaintext_as_before(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("KAFKA_SASL_USERNAME", "KAFKA_SASL_PASSWORD", "KAFKA_SSL_CAFILE"):
        monkeypatch.delenv(name, raising=False)
    assert client_options(CommonSettings()) == {}


def test_a_ca_file_alone_gives_tls_without_sasl(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KAFKA_SASL_USERNAME", raising=False)
    monkeypatch.setenv("KAFKA_SSL_CAFILE", str(self_signed_ca(tmp_path / "ca.crt")))
    options = client_options(CommonSettings())
    assert options["security_protocol"] == "SSL" and "sasl_mechanism" not in options


@pytest.mark.integration
def test_the_init_container_command_migrates_a_fresh_schema(database_url: str) -> None:
    schema = f"deploy_migrate_{uuid.uuid4().hex[:8]}"
    env = {**os.environ, "DATABASE_URL": database_url, "DATABASE_SCHEMA": schema}
    result = subprocess.run([sys.executable, "-m", "shared.messaging.migrate", "billing"], cwd=REPO, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr

    async def tables() -> set[str]:
        engine = create_async_engine(asyncpg_url(database_url))
        try:
            async with engine.connect() as conn:
                rows = await conn.execute(text("select table_name from information_schema.tables where table_schema = :s"),
                                          {"s": schema})
                return {r[0] for r in rows}
        finally:
            await engine.dispose()

    assert {"alembic_version", "outbox", "inbox"} <= asyncio.run(tables())
    again = subprocess.run([sys.executable, "-m", "shared.messaging.migrate", "billing"], cwd=REPO, env=env,
                           capture_output=True, text=True, timeout=120)
    assert again.returncode == 0, again.stderr  # a restarted pod's init container finds nothing to do


@pytest.mark.integration
async def test_a_second_replica_is_ready_while_its_relay_stands_by(kafka_bootstrap: str, database_url: str) -> None:
    from services.enrollment.app import build
    from services.enrollment.settings import Settings

    schema = f"deploy_replica_{uuid.uuid4().hex[:8]}"
    settings = Settings(kafka_bootstrap_servers=kafka_bootstrap, database_url=database_url, database_schema=schema,
                        create_topics=False, migrate_on_start=True)
    replicas = [build(settings) for _ in range(2)]

    async def ready(app) -> int:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://replica") as client:
            return (await client.get("/health/ready")).status_code

    async def eventually(condition, timeout: float = 90.0) -> None:
        deadline = asyncio.get_running_loop().time() + timeout
        while not await condition():
            assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
            await asyncio.sleep(0.5)

    relays = [rt.relay for _, rt in replicas]
    contexts = [app.router.lifespan_context(app) for app, _ in replicas]
    running = []
    try:
        for context in contexts:
            await context.__aenter__()
            running.append(context)

        async def one_active_one_standing_by() -> bool:
            return sorted((r.active, r.standing_by) for r in relays) == [(False, True), (True, False)]

        await eventually(one_active_one_standing_by)
        assert [await ready(app) for app, _ in replicas] == [200, 200]

        # The active replica goes away (a rolling update, a drain): the other one takes over publishing.
        active = next(i for i, relay in enumerate(relays) if relay.active)
        await contexts[active].__aexit__(None, None, None)
        running.remove(contexts[active])
        survivor = relays[1 - active]

        async def survivor_publishes() -> bool:
            return survivor.active

        await eventually(survivor_publishes)
        assert await ready(replicas[1 - active][0]) == 200
    finally:
        for context in reversed(running):
            await context.__aexit__(None, None, None)
