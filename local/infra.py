"""Finds or starts a real Kafka broker and a real PostgreSQL server for local runs and tests.
Order: addresses given in the environment; testcontainers where a Docker engine answers; the
project's own scripts (official Kafka jars from Maven Central, Debian's PostgreSQL)."""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SCRIPTS = REPO / "infra" / "local"


@dataclass
class Endpoint:
    address: str
    description: str
    stop: Callable[[], None] = field(default=lambda: None)


def docker_available() -> bool:
    if not shutil.which("docker"):
        return False
    try:
        return subprocess.run(["docker", "info"], capture_output=True, timeout=10).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def _script(name: str, *args: str, env: dict[str, str] | None = None) -> str:
    result = subprocess.run(
        [str(SCRIPTS / name), *args], capture_output=True, text=True, env={**os.environ, **(env or {})}
    )
    if result.returncode != 0:
        raise RuntimeError(f"{name} {' '.join(args)} failed:\n{result.stderr}{result.stdout}")
    return result.stdout.strip()


def kafka(state_dir: Path | None = None) -> Endpoint:
    """A Kafka bootstrap address. state_dir gives a fresh broker its own storage (tests)."""
    given = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if given:
        return Endpoint(given, f"Kafka at {given} (from KAFKA_BOOTSTRAP_SERVERS)")
    if docker_available():
        from testcontainers.kafka import KafkaContainer

        container = KafkaContainer("apache/kafka:4.1.1").with_kraft()
        container.start()
        addr = container.get_bootstrap_server()
        return Endpoint(addr, f"Apache Kafka 4.1.1 at {addr} (testcontainers)", container.stop)
    env = {"BEILEI_STATE": str(state_dir)} if state_dir else {}
    was_running = subprocess.run([str(SCRIPTS / "kafka.sh"), "status"], capture_output=True,
                                 env={**os.environ, **env}).returncode == 0
    _script("kafka.sh", "start", env=env)
    addr = _script("kafka.sh", "address", env=env)
    version = _script("kafka.sh", "version", env=env)
    stop = (lambda: None) if was_running else (lambda: _script("kafka.sh", "stop", env=env))
    return Endpoint(addr, f"Apache Kafka {version} (KRaft, official jars) at {addr}", stop)


def postgres() -> Endpoint:
    """A PostgreSQL URL with rights to create databases and schemas."""
    given = os.environ.get("DATABASE_URL")
    if given:
        return Endpoint(given, "PostgreSQL from DATABASE_URL")
    if docker_available():
        from testcontainers.postgres import PostgresContainer

        container = PostgresContainer("postgres:16", driver=None)
        container.start()
        url = container.get_connection_url()
        return Endpoint(url, f"PostgreSQL 16 (testcontainers) at {url.split('@')[-1]}", container.stop)
    was_running = subprocess.run([str(SCRIPTS / "postgres.sh"), "status"], capture_output=True).returncode == 0
    _script("postgres.sh", "start")
    url = _script("postgres.sh", "url")
    version = _sql(url, "show server_version")
    # Stop it afterwards only if we started it: a server someone else is using stays up.
    stop = (lambda: None) if was_running else (lambda: _script("postgres.sh", "stop"))
    return Endpoint(url, f"PostgreSQL {version} at {url.split('@')[-1]}", stop)


def _sql(url: str, statement: str) -> str | None:
    import asyncio

    import asyncpg

    async def run() -> str | None:
        conn = await asyncpg.connect(url)
        try:
            return await conn.fetchval(statement)
        finally:
            await conn.close()

    return asyncio.run(run())


def with_database(url: str, name: str) -> str:
    """The same server, another database."""
    base, _, _ = url.rpartition("/")
    return f"{base}/{name}"


def create_database(url: str, name: str) -> str:
    _sql(url, f'create database "{name}"')
    return with_database(url, name)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
