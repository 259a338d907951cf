"""One redaction for every reason, dead letter, error body and log line (issue 15): mobile numbers and resident
ID numbers are masked wherever they sit in free text; numbers the platform itself carries are left alone; the
kit's HTTP edge masks them in every error body and every answer to a write, its logs everywhere, its dead
letters in reason, key, headers and original."""
from __future__ import annotations

import base64
import hashlib
import json
import logging
import sys
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI, HTTPException
from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry
from pydantic import BaseModel, Field
from sqlalchemy import text

from shared.contracts.enrollment import GuardianRegistered
from shared.contracts.envelope import new_envelope
from shared.contracts.registry import encode
from shared.contracts.topics import ENROLLMENT_EVENTS
from shared.messaging.consumer import BatchConsumer, RawRecord, Rejected, dlq_record
from shared.messaging.db import Database
from shared.messaging.http import install_database_unavailable, install_input_guards
from shared.messaging.uow import UnitOfWork
from shared.observability import JsonFormatter, KitMetrics
from shared.privacy import contains_personal_number, mask_id_numbers_in, mask_phones_in, redact

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
    "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",  # hex digests likewise
    "9f86d081884c7d659a2feaa0c55ad015a13812345678ae5d6ac4b2b0b822cd15",
    "stu-000123 / rec-42 / 10:15",
    "app-15312349302f4b67",  # a hex id whose digits look like a phone: masking it would hand back a wrong id
])
def test_numbers_the_platform_carries_are_left_alone(text: str) -> None:
    assert redact(text) == text
    assert not contains_personal_number(text)


_PIECES = ["1", "3", "8", "0", "9", "2", "X", "-", " ", "+86", "a", "f", "１", "３", "８", "－", "号", '"', "19", "20",
           "13812345678", "138-1234-5678", "138 1234-5678", "1381234-5678", "138-12345678", ID_NUMBER, "0101", "1231"]


@settings(max_examples=3000, deadline=None)
@given(st.lists(st.sampled_from(_PIECES), max_size=40).map("".join))
def test_the_quick_screen_never_passes_over_a_number_the_patterns_mask(text: str) -> None:
    # redact() skips the patterns when a byte scan finds no phone- or ID-shaped run of digits; that must never
    # leave one in the clear.
    assert redact(text) == mask_phones_in(mask_id_numbers_in(text))


PHONE = "13812345678"


class Pupil(BaseModel):
    student_id: str = Field(pattern=r"^stu-[a-z0-9]+$")


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    app = FastAPI()
    install_database_unavailable(app)
    install_input_guards(app)

    @app.post("/pupils")
    async def add(pupil: Pupil) -> dict:
        return {"student_id": pupil.student_id}

    @app.post("/batch")
    async def batch(records: list[dict]) -> dict:  # answers per record, as the batch routes do
        return {"results": [{"record_id": r.get("record_id"), "status": "rejected",
                             "reason": f"unknown student {r.get('student_id')}"} for r in records]}

    @app.get("/pupils/{student_id}")
    async def read(student_id: str) -> dict:
        if not student_id.startswith("stu-"):
            raise HTTPException(404, f"no pupil {student_id}")
        return {"student_id": student_id}

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://kit") as c:
        yield c


async def test_a_validation_error_does_not_echo_a_phone_number_it_refused(client: httpx.AsyncClient) -> None:
    answer = await client.post("/pupils", json={"student_id": PHONE})
    assert answer.status_code == 422
    assert PHONE not in answer.text and "138****5678" in answer.text, "the framework's `input` echo is masked"
    assert int(answer.headers["content-length"]) == len(answer.content)


async def test_per_record_reasons_and_echoed_ids_of_a_write_are_masked(client: httpx.AsyncClient) -> None:
    answer = await client.post("/batch", json=[{"record_id": ID_NUMBER, "student_id": f"+86 {PHONE}"}])
    assert answer.status_code == 200
    assert answer.json() == {"results": [{"record_id": "110***********002X", "status": "rejected",
                                          "reason": "unknown student 138****5678"}]}


async def test_an_error_of_a_read_is_masked_but_a_read_itself_is_served_as_stored(client: httpx.AsyncClient) -> None:
    refused = await client.get(f"/pupils/{PHONE}")
    assert refused.status_code == 404 and PHONE not in refused.text and "138****5678" in refused.text
    served = await client.get(f"/pupils/stu-{PHONE}")
    assert served.json() == {"student_id": f"stu-{PHONE}"}, "reads are not rewritten: a ledger's bytes are hashed"


def test_a_log_line_masks_id_numbers_in_its_message_fields_and_traceback() -> None:
    try:
        raise ValueError(f"no guardian with id {ID_NUMBER}")
    except ValueError:
        record = logging.LogRecord("t", logging.ERROR, __file__, 1, "lookup of %s failed", (PHONE,), sys.exc_info())
    record.guardian = ID_NUMBER
    line = JsonFormatter("enrollment").format(record)
    assert ID_NUMBER not in line and PHONE not in line
    assert json.loads(line)["guardian"] == "110***********002X" and "138****5678" in json.loads(line)["msg"]


def test_a_dead_letter_masks_its_reason_key_headers_and_original_and_says_so() -> None:
    original = json.dumps({"payload": {"student_id": PHONE, "collected_by_name": f"王 {ID_NUMBER}"}}).encode()
    record = RawRecord("attendance.ingest", 3, 9, PHONE.encode(), original, (("x-guardian", ID_NUMBER.encode()),))
    body = json.loads(dlq_record(record, consumer="attendance", kind="rejected", reason=f"unknown student {PHONE}"))
    letter = json.dumps(body, ensure_ascii=False) + base64.b64decode(body["original_b64"]).decode()
    assert PHONE not in letter and ID_NUMBER not in letter
    assert body["reason"] == "unknown student 138****5678" and body["key"] == "138****5678"
    assert body["original_headers"] == {"x-guardian": "110***********002X"}
    assert json.loads(base64.b64decode(body["original_b64"]))["payload"]["student_id"] == "138****5678"
    assert body["original_redacted"] is True and body["original_sha256"] is None, "a short record's hash is reversible"
    assert body["original_size"] == len(original) and body["original_truncated"] is False


def test_a_dead_letter_without_personal_numbers_keeps_its_original_byte_for_byte() -> None:
    original = b"\xff\xfe not json, rec-000123 at 1733318280000"
    body = json.loads(dlq_record(RawRecord("t", 0, 1, b"k", original), consumer="c", kind="contract:not_json", reason="x"))
    assert base64.b64decode(body["original_b64"]) == original, "still replayable"
    assert body["original_redacted"] is False and body["original_sha256"] == hashlib.sha256(original).hexdigest()
    masked = json.loads(dlq_record(RawRecord("t", 0, 1, None, b"\xff" + PHONE.encode()), consumer="c", kind="k", reason="x"))
    assert base64.b64decode(masked["original_b64"]) == b"\xff138****5678", "bytes that are not text stay as they were"


async def test_the_consumer_dead_letters_a_rejected_record_with_no_personal_number_in_the_clear(kit_db: Database) -> None:
    async def handler(uow, envelope, event):
        raise Rejected(f"unknown student {event.student_ids[0]}")

    event = GuardianRegistered(guardian_id="gdn-1", school_id="sch-1", student_ids=[PHONE], name="王芳",
                               phone_masked="138****0000", phone_sealed="sealed", consent=True, registered_by="stf-1")
    consumer = BatchConsumer("tester", {"GuardianRegistered": handler}, lambda: UnitOfWork(kit_db, producer="tester"),
                             KitMetrics(CollectorRegistry()), retry_base_seconds=0.01)
    raw = encode(new_envelope(event, producer="enrollment"))
    await consumer.process([RawRecord(ENROLLMENT_EVENTS, 0, 5, ID_NUMBER.encode(), raw, (("type", b"GuardianRegistered"),))])
    async with kit_db.engine.connect() as conn:
        (row,) = (await conn.execute(text("select topic, key, value, headers from outbox"))).all()
    assert row.topic == "enrollment.events.dlq"
    stored = f"{row.key} {row.value.decode()} {json.dumps(row.headers, ensure_ascii=False)}"
    assert PHONE not in stored and ID_NUMBER not in stored
    assert row.key == "110***********002X" and row.headers["reason"] == "unknown student 138****5678"
