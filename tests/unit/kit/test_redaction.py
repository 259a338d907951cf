"""One redaction for every reason, dead letter, error body and log line (issue 15): mobile numbers and resident
ID numbers are masked wherever they sit in free text; numbers the platform itself carries are left alone."""
from __future__ import annotations

import pytest

from shared.privacy import contains_personal_number, redact

ID_NUMBER = "11010519491231002X"


@pytest.mark.parametrize(("text", "masked"), [
    ("13812345678", "138****5678"),
    ("call +86 138-1234-5678 now", "call 138****5678 now"),
    ("student_id stu-13812345678 unknown", "student_id stu-138****5678 unknown"),
    ("电话：１３８１２３４５６７８。", "电话：138****5678。"),
    (ID_NUMBER, "110***********002X"),
    ("身份证 440301201502281234 已登记", "身份证 440***********1234 已登记"),
    ("lower-case check 11010519491231002x.", "lower-case check 110***********002x."),
    ('{"a": "13912345678", "b": "110105194912310021"}', '{"a": "139****5678", "b": "110***********0021"}'),
])
def test_phone_and_id_numbers_are_masked_wherever_they_sit_in_free_text(text: str, masked: str) -> None:
    assert redact(text) == masked
    assert redact(masked) == masked, "redacting twice changes nothing"
    assert contains_personal_number(text) and not contains_personal_number(masked)


@pytest.mark.parametrize("text", [
    "1733318280000",  # epoch millis
    "1733318280000123",  # epoch micros
    "2025091212345678",  # order number
    "173331828000012345",  # 18 digits whose 'birth date' is no date
    "202612041015123",  # a compact timestamp: the 15-digit first-generation ID form is not matched
    "2026-12-04T13:45:12.123+08:00",
    "8f14e45f-ceea-467f-a0e6-138123456781",  # UUIDs, with eleven-digit runs in their groups
    "8f14e45f-ceea-467f-a0e6-a13812345678",
    "8f14e138-1234-5678-a0e6-7c0f2d9e4b1a",
    "stu-000123 / rec-42 / 10:15",
])
def test_numbers_the_platform_carries_are_left_alone(text: str) -> None:
    assert redact(text) == text
    assert not contains_personal_number(text)
