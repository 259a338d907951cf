"""The load generator's pure parts: open-loop due times that do not depend on replies, and the bytes of
a keep-alive POST."""
from __future__ import annotations

from bench.loadgen import due_times, request_bytes


def test_requests_are_due_evenly_at_the_offered_rate_from_the_start() -> None:
    assert list(due_times(4, 2.0, start=10.0)) == [10.0, 10.5, 11.0, 11.5]


def test_a_post_carries_its_length_host_and_headers_then_the_body() -> None:
    raw = request_bytes("127.0.0.1:8000", "/v1/x", b'{"a":1}', {"Authorization": "Bearer t"})
    head, body = raw.split(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    assert lines[0] == "POST /v1/x HTTP/1.1" and "Host: 127.0.0.1:8000" in lines
    assert "Content-Length: 7" in lines and "Authorization: Bearer t" in lines and body == b'{"a":1}'


def test_cpu_spent_counts_processes_alive_at_the_end_and_new_ones_from_zero() -> None:
    from bench.procstats import spent
    assert spent({1: 2.0, 2: 5.0, 3: 1.0}, {1: 3.5, 2: 5.0, 4: 0.25}) == 1.75


def test_the_kafka_pid_is_read_from_the_state_folder_and_must_be_alive(tmp_path) -> None:
    import os

    from bench.procstats import kafka_pid
    (tmp_path / "kafka").mkdir()
    (tmp_path / "kafka" / "pid").write_text(f"{os.getpid()}\n")
    assert kafka_pid(tmp_path) == os.getpid()
    (tmp_path / "kafka" / "pid").write_text("999999999\n")
    assert kafka_pid(tmp_path) is None
