"""The service reads stored entries with pydantic's JSON parser; it must say exactly what the offline
verifier's standard-library reading says about the same bytes (R24, R26)."""
from __future__ import annotations

import json

import pytest

from services.audit.domain import records
from services.audit.ledger import books
from shared.contracts.registry import encode
from tests.unit.audit.money import School, envelope


def _body(**extra: object) -> bytes:
    school = School("read")
    document = json.loads(encode(envelope(school.charge(school.student()))))
    document["payload"].update(extra)
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


@pytest.mark.parametrize("extra", [
    {}, {"note": "王芳 \\u2028 \"quoted\""}, {"big": 2 ** 80}, {"tiny": 1.5e-07}, {"nested": [{"a": None}, []]},
])
def test_an_entry_reads_the_same_as_the_offline_verifier_reads_it(extra: dict) -> None:
    body = _body(**extra)
    assert records.read_entry(body) == books.read_entry(body)
    assert records.read_entry(body).payload == books.read_entry(body).payload


def test_bytes_the_fast_parser_refuses_get_the_standard_librarys_answer() -> None:
    lone_surrogate = _body().replace(b'"payload":{', b'"payload":{"odd":"\\ud800",', 1)
    assert records.read_entry(lone_surrogate) == books.read_entry(lone_surrogate)
    truncated = b'{"type": "FeeCharged",'
    with pytest.raises(books.EntryError) as fast:
        records.read_entry(truncated)
    with pytest.raises(books.EntryError) as slow:
        books.read_entry(truncated)
    assert str(fast.value) == str(slow.value)


def test_an_entry_that_is_not_a_fee_record_is_refused_as_by_the_verifier() -> None:
    body = _body().replace(b'"type":"FeeCharged"', b'"type":"StudentCheckedOut"', 1)
    with pytest.raises(books.EntryError, match="not a fee record"):
        records.read_entry(body)
