"""Logs are JSON, carry the correlation id, and never show a full mainland mobile number."""
from __future__ import annotations

import json
import logging

import pytest

from shared.observability import JsonFormatter, correlation_id
from shared.privacy import Sealer, mask_phone, mask_phones_in


def _format(msg: str, **extra: object) -> dict:
    record = logging.LogRecord("t", logging.INFO, __file__, 1, msg, (), None)
    for key, value in extra.items():
        setattr(record, key, value)
    return json.loads(JsonFormatter("enrollment").format(record))


def test_a_log_line_is_json_with_service_and_correlation_id() -> None:
    token = correlation_id.set("req-42")
    try:
        line = _format("hello", school_id="sch-1")
    finally:
        correlation_id.reset(token)
    assert line["service"] == "enrollment" and line["msg"] == "hello"
    assert line["correlation_id"] == "req-42" and line["school_id"] == "sch-1"


@pytest.mark.parametrize("phone", ["13812345678", "+8613812345678", "86 13812345678"])
def test_a_phone_number_in_a_message_or_a_field_is_masked(phone: str) -> None:
    line = json.dumps(_format(f"sending to {phone}", to=phone), ensure_ascii=False)
    assert "12345678" not in line
    assert "138****5678" in line


def test_masking_keeps_only_prefix_and_last_four_digits() -> None:
    assert mask_phone("138 1234 5678") == "138****5678"
    assert mask_phones_in("a 13912345678 b") == "a 139****5678 b"
    assert mask_phones_in("order 2025091212345678") == "order 2025091212345678", "longer digit runs are not phones"


def test_a_sealed_phone_opens_only_with_the_same_key() -> None:
    sealer = Sealer("bG9jYWwtZGV2ZWxvcG1lbnQta2V5LW9ubHktMzJieXQ=")
    sealed = sealer.seal("13812345678")
    assert "13812345678" not in sealed and sealer.unseal(sealed) == "13812345678"
    other = Sealer("b3RoZXItZGV2ZWxvcG1lbnQta2V5LW9ubHktMzJieXQ=")
    with pytest.raises(ValueError):
        other.unseal(sealed)
