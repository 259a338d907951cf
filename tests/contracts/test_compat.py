"""breaking_changes on small synthetic schemas: each kind of break is caught, additive optional is not."""
from __future__ import annotations

import copy

from shared.contracts.compat import breaking_changes


def base() -> dict:
    return {
        "type": "object",
        "properties": {
            "student_id": {"type": "string", "description": "Student."},
            "amount_fen": {"type": "integer", "minimum": 0, "maximum": 100000},
            "channel": {"enum": ["sms", "push"], "type": "string"},
            "kind": {"const": "pickup", "type": "string"},
            "note": {"anyOf": [{"type": "string", "maxLength": 200}, {"type": "null"}], "default": None},
            "session": {"$ref": "#/$defs/Session"},
            "tags": {"type": "array", "items": {"type": "string"}},
        },
        "required": ["student_id", "amount_fen", "channel", "kind", "session"],
        "$defs": {
            "Session": {
                "type": "object",
                "properties": {"starts_at_local": {"type": "string", "pattern": "^[0-9]{2}:[0-9]{2}$"}},
                "required": ["starts_at_local"],
            }
        },
    }


def changed(edit) -> list[str]:
    new = copy.deepcopy(base())
    edit(new)
    return breaking_changes(base(), new)


def test_identical_schemas_have_no_breaking_change() -> None:
    assert breaking_changes(base(), base()) == []


def test_an_additive_optional_field_is_not_breaking() -> None:
    assert changed(lambda s: s["properties"].update(remark={"type": "string", "default": ""})) == []


def test_new_descriptions_titles_and_examples_are_not_breaking() -> None:
    def edit(s: dict) -> None:
        s["properties"]["student_id"].update(description="Another wording.", title="Student", examples=["stu-1"])
        s["$defs"]["Session"]["description"] = "A session."

    assert changed(edit) == []


def test_a_removed_property_is_breaking() -> None:
    assert changed(lambda s: s["properties"].pop("tags")) == ["$.tags: property removed"]


def test_a_changed_type_is_breaking() -> None:
    def edit(s: dict) -> None:
        s["properties"]["amount_fen"] = {"type": "number", "minimum": 0, "maximum": 100000}

    assert changed(edit) == ["$.amount_fen: type changed from integer to number"]


def test_making_a_field_nullable_is_a_changed_type() -> None:
    def edit(s: dict) -> None:
        s["properties"]["student_id"] = {"anyOf": [{"type": "string"}, {"type": "null"}]}

    assert changed(edit) == ["$.student_id: type changed from string to null|string"]


def test_a_new_required_field_is_breaking() -> None:
    def edit(s: dict) -> None:
        s["properties"]["school_id"] = {"type": "string"}
        s["required"].append("school_id")

    assert changed(edit) == ["$.school_id: new required property"]


def test_an_optional_field_becoming_required_is_breaking() -> None:
    assert changed(lambda s: s["required"].append("tags")) == ["$.tags: became required"]


def test_a_removed_enum_value_is_breaking() -> None:
    assert changed(lambda s: s["properties"]["channel"].update(enum=["sms"])) == ['$.channel: enum value(s) removed: "push"']


def test_an_added_enum_value_is_breaking_for_old_readers() -> None:
    changes = changed(lambda s: s["properties"]["channel"].update(enum=["sms", "push", "wechat"]))

    assert changes == ['$.channel: enum value(s) added: "wechat" (old readers reject them)']


def test_a_narrowed_numeric_bound_is_breaking() -> None:
    changes = changed(lambda s: s["properties"]["amount_fen"].update(maximum=5000))

    assert changes == ["$.amount_fen: constraint narrowed: maximum from 100000 to 5000"]


def test_a_new_minimum_length_inside_an_optional_field_is_breaking() -> None:
    changes = changed(lambda s: s["properties"]["note"]["anyOf"][0].update(minLength=1))

    assert changes == ["$.note: constraint narrowed: minLength 1 added"]


def test_a_changed_pattern_behind_a_ref_is_breaking_and_located() -> None:
    changes = changed(lambda s: s["$defs"]["Session"]["properties"]["starts_at_local"].update(pattern="^[0-9]{4}$"))

    assert changes == ['$.session.starts_at_local: constraint pattern changed from "^[0-9]{2}:[0-9]{2}$" to "^[0-9]{4}$"']


def test_a_changed_const_is_breaking() -> None:
    changes = changed(lambda s: s["properties"]["kind"].update(const="absence"))

    assert changes == ['$.kind: const changed from "pickup" to "absence"']


def test_a_changed_array_item_type_is_located_with_a_star() -> None:
    changes = changed(lambda s: s["properties"]["tags"].update(items={"type": "integer"}))

    assert changes == ["$.tags[*]: type changed from string to integer"]


def test_a_changed_default_is_breaking() -> None:
    changes = changed(lambda s: s["properties"]["note"].update(default="none"))

    assert changes == ['$.note: default changed from null to "none"']


def test_moving_an_event_to_another_topic_is_breaking() -> None:
    old = {**base(), "x-topic": "billing.events"}
    new = {**base(), "x-topic": "audit.events"}

    assert breaking_changes(old, new) == ['$: topic changed from "billing.events" to "audit.events"']


def test_a_changed_nested_model_is_compared_through_renamed_refs() -> None:
    def edit(s: dict) -> None:
        s["$defs"]["SessionTime"] = s["$defs"].pop("Session")
        s["properties"]["session"] = {"$ref": "#/$defs/SessionTime"}
        s["$defs"]["SessionTime"]["properties"].pop("starts_at_local")

    assert changed(edit) == ["$.session.starts_at_local: property removed"]


def test_a_recursive_schema_is_compared_without_looping_forever() -> None:
    tree = {
        "$ref": "#/$defs/Node",
        "$defs": {"Node": {"type": "object", "properties": {"children": {"type": "array", "items": {"$ref": "#/$defs/Node"}}}}},
    }

    assert breaking_changes(tree, copy.deepcopy(tree)) == []
