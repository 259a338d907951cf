"""infra/local/kafka.sh never discards a broker's storage by itself: a restart right after a crash (its
ports still in TIME_WAIT) keeps every acknowledged record, and a port that stays taken is reported with
the explicit `reset` as the only way to start over. These run the script itself, whatever broker the
rest of the suite uses."""
from __future__ import annotations

import asyncio
import errno
import os
import signal
import socket
import struct
import subprocess
import time
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from local.infra import SCRIPTS

pytestmark = pytest.mark.integration

KAFKA = str(SCRIPTS / "kafka.sh")
TOPIC = "restart.check"


def kafka_sh(state: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([KAFKA, *args], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "BEILEI_STATE": str(state), **env})


async def produce_acknowledged(bootstrap: str, value: bytes) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(TOPIC, 1, 1)])
    finally:
        await admin.close()
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True)
    await producer.start()
    try:
        await producer.send_and_wait(TOPIC, value)
    finally:
        await producer.stop()


async def read_topic(bootstrap: str, expected: int) -> list[bytes]:
    consumer = AIOKafkaConsumer(TOPIC, bootstrap_servers=bootstrap, auto_offset_reset="earliest",
                                enable_auto_commit=False, group_id=None)
    await consumer.start()
    values: list[bytes] = []
    try:
        batches = await consumer.getmany(timeout_ms=30_000, max_records=expected)
        for records in batches.values():
            values.extend(r.value for r in records)
    finally:
        await consumer.stop()
    return values


def connected_client(host: str, port: int) -> socket.socket:
    """A connection the broker has accepted and answered on (ApiVersions v0), with nothing left unread
    on either side: killed, the broker's end closes with a FIN (not a reset) and so enters TIME_WAIT."""
    client = socket.create_connection((host, port), timeout=30)
    body = struct.pack(">hhih", 18, 0, 1, 4) + b"test"
    client.sendall(struct.pack(">i", len(body)) + body)
    size = struct.unpack(">i", client.recv(4, socket.MSG_WAITALL))[0]
    client.recv(size, socket.MSG_WAITALL)
    return client


def plain_bind_refused(port: int) -> bool:
    """What the script used to test: a bind without SO_REUSEADDR, which TIME_WAIT refuses."""
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError as exc:
            return exc.errno == errno.EADDRINUSE
        return False


def test_a_restart_right_after_a_kill_9_keeps_the_acknowledged_records(tmp_path: Path) -> None:
    state = tmp_path / "state"
    try:
        assert kafka_sh(state, "start").returncode == 0
        bootstrap = kafka_sh(state, "address").stdout.strip()
        asyncio.run(produce_acknowledged(bootstrap, b"acknowledged before the crash"))

        host, port = bootstrap.rsplit(":", 1)
        client = connected_client(host, int(port))  # a connection the broker holds when it dies
        pid = int((state / "kafka" / "pid").read_text())
        os.kill(pid, signal.SIGKILL)
        assert client.recv(1) == b""  # the dying broker's side closed first ...
        client.close()  # ... so once this side closes too, its port lingers in TIME_WAIT
        while subprocess.run(["kill", "-0", str(pid)], capture_output=True).returncode == 0:
            time.sleep(0.1)  # gone, not only closing
        assert plain_bind_refused(int(port)), "the crash left the broker's port in TIME_WAIT"

        restarted = kafka_sh(state, "start")
        assert restarted.returncode == 0, restarted.stderr
        assert "fresh storage" not in restarted.stderr
        assert kafka_sh(state, "address").stdout.strip() == bootstrap
        assert asyncio.run(read_topic(bootstrap, 1)) == [b"acknowledged before the crash"]
    finally:
        kafka_sh(state, "stop")


def test_a_port_that_stays_taken_fails_the_start_naming_it_and_leaves_the_storage_alone(tmp_path: Path) -> None:
    state = tmp_path / "state"
    kept = state / "kafka" / "data" / "events-that-were-acknowledged"
    kept.parent.mkdir(parents=True)
    kept.write_text("kept")
    with socket.socket() as taken, socket.socket() as other:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        other.bind(("127.0.0.1", 0))
        busy, free = taken.getsockname()[1], other.getsockname()[1]
        other.close()
        (state / "kafka" / "ports").write_text(f"{busy} {free}\n")

        try:
            result = kafka_sh(state, "start", KAFKA_PORT_WAIT="1")
        finally:
            kafka_sh(state, "stop")  # had it started over, the broker must not outlive the test

    assert result.returncode != 0
    assert f"port {busy} is still in use" in result.stderr
    assert "kafka.sh reset" in result.stderr
    assert kept.read_text() == "kept"
    assert (state / "kafka" / "ports").read_text() == f"{busy} {free}\n"


def test_reset_is_the_explicit_way_to_discard_the_storage(tmp_path: Path) -> None:
    state = tmp_path / "state"
    (state / "kafka" / "data").mkdir(parents=True)
    (state / "kafka" / "ports").write_text("1 2\n")

    assert kafka_sh(state, "reset").returncode == 0

    assert not (state / "kafka").exists()
