"""Round trips and precise rejections of the envelope codec (R15); no broker involved."""
from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from shared.contracts import attendance, enrollment, topics
from shared.contracts.envelope import new_envelope
from shared.contracts.registry import EVENT_TYPES, ContractError, decode, encode, event_type
from shared.contracts.schema import example_envelope, example_event

ALL = sorted(EVENT_TYPES.values(), key=lambda c: (c.type_name, c.version))


def envelope_dict(cls=attendance.StudentCheckedOut) -> dict:
    return json.loads(encode(example_envelope(cls)))


def raw(data: object) -> bytes:
    return json.dumps(data, ensure_ascii=False).encode()


@pytest.mark.parametrize("cls", ALL, ids=lambda c: f"{c.type_name}.v{c.version}")
def test_every_registered_event_survives_encode_then_decode(cls) -> None:
    envelope = new_envelope(example_event(cls), producer="test", correlation_id="req-1")

    decoded_envelope, event = decode(encode(envelope))

    assert decoded_envelope == envelope
    assert type(event) is cls
    assert event == example_event(cls)
    assert decoded_envelope.key == event.partition_key()


def test_encode_writes_compact_utf8_json_and_keeps_chinese_readable() -> None:
    data = encode(example_envelope(enrollment.ApplicationSubmitted))

    assert b", " not in data and b": " not in data
    assert "李小明".encode() in data
    assert b"\\u" not in data


def test_event_type_finds_the_class_by_name_and_version() -> None:
    assert event_type("StudentCheckedOut", 1) is attendance.StudentCheckedOut


def test_times_with_a_china_offset_are_normalised_to_utc() -> None:
    data = envelope_dict()
    data["payload"]["checked_out_at"] = "2025-09-12T17:42:00+08:00"

    _, event = decode(raw(data))

    assert event.checked_out_at == datetime(2025, 9, 12, 9, 42, tzinfo=UTC)
    assert event.checked_out_at.utcoffset() == timedelta(0)


def test_garbage_bytes_are_rejected_as_not_utf8() -> None:
    with pytest.raises(ContractError, match="not UTF-8") as caught:
        decode(b"\xff\xfe\x00garbage")
    assert caught.value.code == "not_json"


def test_text_that_is_not_json_is_rejected_with_its_position() -> None:
    with pytest.raises(ContractError, match=r"not JSON: .* line 1 column 2"):
        decode(b"{oops")


def test_an_empty_record_is_rejected() -> None:
    with pytest.raises(ContractError, match="empty message"):
        decode(b"")


def test_json_that_is_not_an_object_is_rejected() -> None:
    with pytest.raises(ContractError, match="not a JSON object: got list") as caught:
        decode(b"[1, 2]")
    assert caught.value.code == "not_object"


def test_an_envelope_without_event_id_names_the_missing_field() -> None:
    data = envelope_dict()
    del data["event_id"]

    with pytest.raises(ContractError, match=r"invalid envelope: \$\.event_id: Field required") as caught:
        decode(raw(data))
    assert caught.value.code == "bad_envelope"


def test_a_naive_occurred_at_is_an_invalid_envelope() -> None:
    data = envelope_dict()
    data["occurred_at"] = "2025-09-12T09:42:00"

    with pytest.raises(ContractError, match=r"\$\.occurred_at: .*timezone"):
        decode(raw(data))


def test_a_missing_payload_field_is_named_with_its_path() -> None:
    data = envelope_dict()
    del data["payload"]["handed_over_by"]

    with pytest.raises(ContractError) as caught:
        decode(raw(data))

    assert caught.value.code == "bad_payload"
    assert str(caught.value) == "invalid StudentCheckedOut v1 payload: $.payload.handed_over_by: Field required"


def test_a_wrong_payload_value_says_why_and_what_was_sent() -> None:
    data = envelope_dict(enrollment.ProgrammePublished)
    data["payload"]["activities"][0]["tier"] = "classroom_teaching"

    with pytest.raises(ContractError) as caught:
        decode(raw(data))

    reason = str(caught.value)
    assert "$.payload.activities[0].tier" in reason
    assert "'homework_help'" in reason and "'classroom_teaching'" in reason


def test_a_rejected_phone_number_is_not_echoed_in_full() -> None:
    data = envelope_dict(enrollment.GuardianRegistered)
    data["payload"]["phone_masked"] = "13812345678"

    with pytest.raises(ContractError) as caught:
        decode(raw(data))

    assert "$.payload.phone_masked" in str(caught.value)
    assert "13812345678" not in str(caught.value)


def test_an_unknown_type_is_rejected_by_name() -> None:
    data = envelope_dict()
    data["type"] = "StudentTeleported"

    with pytest.raises(ContractError, match="unknown event type 'StudentTeleported' version 1") as caught:
        decode(raw(data))
    assert caught.value.code == "unknown_type"


def test_an_unknown_version_of_a_known_type_lists_the_known_versions() -> None:
    data = envelope_dict()
    data["version"] = 7

    with pytest.raises(ContractError, match=r"unknown version 7 of event type 'StudentCheckedOut' \(known: 1\)"):
        decode(raw(data))


def test_a_key_that_differs_from_the_payload_key_field_is_rejected() -> None:
    data = envelope_dict()
    data["key"] = "stu-999999"

    with pytest.raises(ContractError, match="does not match payload student_id 'stu-000123'") as caught:
        decode(raw(data))
    assert caught.value.code == "key_mismatch"


def test_an_event_read_from_the_wrong_topic_is_rejected_when_the_topic_is_given() -> None:
    data = raw(envelope_dict())

    decode(data, topic=topics.ATTENDANCE_EVENTS)
    with pytest.raises(ContractError, match="belongs on attendance.events, not attendance.ingest"):
        decode(data, topic=topics.ATTENDANCE_INGEST)


def test_unknown_fields_are_ignored_by_the_tolerant_reader() -> None:
    data = envelope_dict()
    data["payload"]["added_in_a_later_release"] = {"anything": 1}
    data["shiny_new_header"] = "x"

    _, event = decode(raw(data))

    assert event == example_event(attendance.StudentCheckedOut)


def test_hardship_approval_without_a_verifier_is_rejected() -> None:
    data = envelope_dict(enrollment.ApplicationApproved)
    data["payload"]["hardship"] = True
    data["payload"]["hardship_verified_by"] = None

    with pytest.raises(ContractError, match="hardship_verified_by is required when hardship is true"):
        decode(raw(data))


def test_the_event_id_survives_as_a_uuid() -> None:
    envelope, _ = decode(encode(example_envelope(attendance.StudentAbsent)))
    assert isinstance(envelope.event_id, uuid.UUID)


def test_an_instant_past_year_9999_in_utc_is_a_contract_error_not_a_crash() -> None:
    data = envelope_dict()
    data["payload"]["checked_out_at"] = "9999-12-31T23:59:59-14:00"

    with pytest.raises(ContractError) as caught:
        decode(raw(data))

    assert caught.value.code == "bad_payload" and "checked_out_at" in str(caught.value)


def test_json_nested_too_deeply_for_the_parser_is_a_contract_error_not_a_crash() -> None:
    with pytest.raises(ContractError) as caught:
        decode(b"[" * 100_000 + b"]" * 100_000)

    assert caught.value.code == "not_json"


@pytest.mark.parametrize("value", ["stu-\x00", "stu-\ud800"], ids=["nul", "lone-surrogate"])
def test_a_school_record_with_text_no_store_accepts_is_a_contract_error(value: str) -> None:
    from shared.contracts import ingest

    data = envelope_dict(ingest.SchoolCheckInRecorded)
    data["payload"]["staff_id"] = data["payload"]["checked_in_by"] = value

    with pytest.raises(ContractError) as caught:
        decode(json.dumps(data).encode())

    assert caught.value.code == "bad_payload"
