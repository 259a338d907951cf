"""Shared pytest fixtures: real Kafka and PostgreSQL for tests that cross a process boundary."""
from __future__ import annotations

import dataclasses
import os
import socket
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from local import infra
from local.platform import Platform


def pytest_configure(config: pytest.Config) -> None:
    """The local issuer's key pair exists before any test builds a service: services verify with its JWKS
    (the default AUTH_JWKS) and tests/tokens.py signs with its key; a fresh checkout has neither yet."""
    from shared.issuer import dev_issuer

    dev_issuer()


def _say(config: pytest.Config, line: str) -> None:
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if reporter:
        reporter.write_line(line)


@pytest.fixture(scope="session")
def kafka_bootstrap(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real broker: given, by testcontainers, or a fresh local one with its own storage."""
    endpoint = infra.kafka(state_dir=tmp_path_factory.mktemp("kafka-state"))
    _say(request.config, f"\n[infra] {endpoint.description}")
    yield endpoint.address
    endpoint.stop()


@pytest.fixture(scope="session")
def postgres_server(request: pytest.FixtureRequest) -> Iterator[str]:
    endpoint = infra.postgres()
    _say(request.config, f"[infra] {endpoint.description}")
    yield endpoint.address
    endpoint.stop()


@pytest.fixture(scope="session")
def database_url(postgres_server: str) -> str:
    """A fresh database for this test session, so runs never see each other's rows."""
    return infra.create_database(postgres_server, f"beilei_test_{uuid.uuid4().hex[:10]}")


@pytest.fixture(scope="session")
def logs_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("service-logs")


@pytest.fixture(scope="session")
def platform(kafka_bootstrap: str, database_url: str, logs_dir: Path) -> Iterator[Platform]:
    """The five services as real processes on real Kafka and PostgreSQL, one set for the session
    (tests/integration and tests/hostile share it)."""
    # No quiet hours (R22 defers non-urgent messages 21:30-07:00 school-local): these tests run at any hour
    # and count messages handed over; quiet hours themselves are proven in tests/unit/notification.
    plat = Platform(kafka_bootstrap, database_url, logs_dir,
                    extra_env={"LOG_LEVEL": "INFO", "QUIET_HOURS_START": "00:00", "QUIET_HOURS_END": "00:00"})
    try:
        plat.start(timeout=180)
        yield plat
    finally:
        plat.stop()


@dataclasses.dataclass(frozen=True)
class LocalWitnesses:
    """Two litewitness processes (infra/local/witness.sh) that know one test log key."""

    origin: str
    log_skey: str
    log_vkey: str
    witnesses: tuple[tuple[str, str], ...]  # (URL, cosignature verifier key)
    state: Path

    def add_log(self, origin: str, vkey: str) -> None:
        """Make every witness know one more log (as an operator would with witnessctl)."""
        cache = Path(os.environ.get("BEILEI_CACHE", Path.home() / ".cache" / "beilei"))
        ctl = cache / "litewitness-v0.6.1" / "bin" / "witnessctl"
        for db in sorted(self.state.glob("witness/*/db")):
            subprocess.run([str(ctl), "add-log", "-db", str(db), "-origin", origin], check=True, capture_output=True)
            subprocess.run([str(ctl), "add-key", "-db", str(db), "-origin", origin, "-key", vkey], check=True,
                           capture_output=True)

    def stop(self, name: str) -> None:
        subprocess.run([str(_WITNESS_SH), "stop", name], env={**os.environ, "BEILEI_STATE": str(self.state)},
                       check=True)


_WITNESS_SH = Path(__file__).resolve().parents[1] / "infra" / "local" / "witness.sh"


@pytest.fixture(scope="session")
def witnesses(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalWitnesses]:
    """Real independent witnesses (litewitness from filippo.io/torchwood, built by `make deps`)."""
    from services.audit.ledger.checkpoint import generate_signer

    origin = "beilei.test/audit-ledger"
    skey, vkey = generate_signer(origin)
    state = tmp_path_factory.mktemp("witness-state")
    env = {**os.environ, "BEILEI_STATE": str(state)}
    started: list[tuple[str, str]] = []
    names = ("alpha", "beta")
    try:
        for name in names:
            with socket.socket() as s:
                s.bind(("127.0.0.1", 0))
                port = s.getsockname()[1]
            out = subprocess.run([str(_WITNESS_SH), "start", name, str(port), origin, vkey], env=env, check=True,
                                 capture_output=True, text=True).stdout.strip()
            started.append((f"http://127.0.0.1:{port}", out.splitlines()[-1]))
        yield LocalWitnesses(origin, skey, vkey, tuple(started), state)
    finally:
        for name in names:
            subprocess.run([str(_WITNESS_SH), "stop", name], env=env, check=False)
