"""Committed JSON Schema snapshots and docs/asyncapi.json: valid, current, and never broken."""
from __future__ import annotations

import json

import pytest
from jsonschema import Draft202012Validator

from shared.contracts import attendance, billing
from shared.contracts.compat import breaking_changes
from shared.contracts.registry import EVENT_TYPES, encode
from shared.contracts.schema import envelope_schema, example_envelope, snapshot_name
from shared.contracts.snapshots import SCHEMAS_DIR, WRITE_HINT, expected_files

ALL = sorted(EVENT_TYPES.values(), key=lambda c: (c.type_name, c.version))
def ids(c) -> str:
    return f"{c.type_name}.v{c.version}"


def committed(cls) -> dict:
    path = SCHEMAS_DIR / snapshot_name(cls)
    if not path.exists():
        pytest.fail(f"{path.name} is not committed; {WRITE_HINT}")
    return json.loads(path.read_text(encoding="utf-8"))


def validator(cls) -> Draft202012Validator:
    schema = committed(cls)
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)


@pytest.mark.parametrize("cls", ALL, ids=ids)
def test_an_example_envelope_validates_against_its_committed_snapshot(cls) -> None:
    wire = json.loads(encode(example_envelope(cls)))

    errors = [f"{e.json_path}: {e.message}" for e in validator(cls).iter_errors(wire)]

    assert errors == []


def test_a_snapshot_rejects_an_envelope_of_another_type() -> None:
    wire = json.loads(encode(example_envelope(attendance.StudentCheckedIn)))

    assert not validator(attendance.StudentCheckedOut).is_valid(wire)


def test_a_snapshot_rejects_money_sent_as_a_float() -> None:
    wire = json.loads(encode(example_envelope(billing.FeeCharged)))
    wire["payload"]["amount_fen"] = 300.5

    errors = list(validator(billing.FeeCharged).iter_errors(wire))

    assert [e.json_path for e in errors] == ["$.payload.amount_fen"]


def test_a_snapshot_rejects_an_activity_tier_outside_r3() -> None:
    wire = json.loads(encode(example_envelope(attendance.ActivityRecorded)))
    wire["payload"]["tier"] = "collective_classroom_teaching"

    assert not validator(attendance.ActivityRecorded).is_valid(wire)


def test_snapshots_and_the_asyncapi_document_are_up_to_date_with_the_code() -> None:
    stale = []
    for path, text in expected_files().items():
        if not path.exists():
            stale.append(f"{path.name} is missing")
        elif path.read_text(encoding="utf-8") != text:
            stale.append(f"{path.name} is out of date")

    assert not stale, f"{'; '.join(stale)}: {WRITE_HINT}"


def test_every_committed_snapshot_still_has_its_event_class() -> None:
    known = {snapshot_name(cls) for cls in EVENT_TYPES.values()}
    orphans = sorted(p.name for p in SCHEMAS_DIR.glob("*.json") if p.name not in known)

    assert orphans == [], "a published event version must stay readable: keep its class"


@pytest.mark.parametrize("cls", ALL, ids=ids)
def test_the_current_code_has_no_breaking_change_against_its_committed_snapshot(cls) -> None:
    changes = breaking_changes(committed(cls), envelope_schema(cls))

    assert changes == [], "breaking changes need a new version (a new class with version = 2):\n" + "\n".join(changes)
