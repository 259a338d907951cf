"""House rules every event class follows: names, versions, topics, keys, money, times, actors, docs."""
from __future__ import annotations

import inspect
import re
import typing
from datetime import date, datetime

import pytest
from pydantic import AwareDatetime, BaseModel, ValidationError

from shared.contracts import attendance, audit, billing, enrollment, ingest, notification, topics
from shared.contracts.envelope import Event
from shared.contracts.registry import EVENT_TYPES, MODULES
from shared.contracts.schema import envelope_schema, example_payload

ALL = sorted(EVENT_TYPES.values(), key=lambda c: (c.type_name, c.version))
def ids(c) -> str:
    return f"{c.type_name}.v{c.version}"
PRODUCER_TOPIC = {
    enrollment: topics.ENROLLMENT_EVENTS,
    attendance: topics.ATTENDANCE_EVENTS,
    ingest: topics.ATTENDANCE_INGEST,
    billing: topics.BILLING_EVENTS,
    notification: topics.NOTIFICATION_EVENTS,
    audit: topics.AUDIT_EVENTS,
}
MISSION = {
    "ProgrammePublished", "GuardianRegistered", "ApplicationSubmitted", "ApplicationApproved",
    "ApplicationRejected", "ApplicationReported", "EnrollmentFiled", "EnrollmentWithdrawn",
    "StudentCheckedIn", "StudentCheckedOut", "StudentAbsent", "ExtendedCareStarted", "ExtendedCareEscalated",
    "ActivityRecorded", "UnauthorisedPickupRefused", "FeeScheduleApproved", "FeeCharged", "FeeWaived",
    "SubsidyGranted", "PaymentReceived", "FeeSettled", "RefundIssued", "PayoutIssued", "ExpenseRecorded",
    "DisclosurePublished", "NotificationSent", "NotificationFailed", "LedgerCheckpointPublished", "AnomalyDetected",
}  # fmt: skip


def models_in(cls: type[BaseModel]) -> list[type[BaseModel]]:
    """The class and every model nested in its fields."""
    found: list[type[BaseModel]] = []

    def visit(annotation: object) -> None:
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            if annotation not in found:
                found.append(annotation)
                for field in annotation.model_fields.values():
                    visit(field.annotation)
        for arg in typing.get_args(annotation):
            visit(arg)

    visit(cls)
    return found


def leaf_types(annotation: object) -> set[type]:
    """The plain classes inside an annotation: `UtcDatetime | None` -> {AwareDatetime, NoneType}."""
    if typing.get_origin(annotation) is typing.Annotated:
        return leaf_types(typing.get_args(annotation)[0])
    if isinstance(annotation, type) and not typing.get_args(annotation):
        return {annotation}
    return set().union(*(leaf_types(a) for a in typing.get_args(annotation)))


def schema_properties(node: object, path: str = "$"):
    """(path, name, schema) of every property anywhere in a schema, $defs included."""
    if isinstance(node, dict):
        for name, sub in node.get("properties", {}).items():
            yield f"{path}.{name}", name, sub
        for key, value in node.items():
            yield from schema_properties(value, f"{path}.{key}")
    elif isinstance(node, list):
        for item in node:
            yield from schema_properties(item, path)


def types_of(schema: dict) -> set[str]:
    if "anyOf" in schema:
        return set().union(*(types_of(s) for s in schema["anyOf"]))
    declared = schema.get("type", [])
    return {declared} if isinstance(declared, str) else set(declared)


def test_every_event_the_mission_needs_is_registered_as_version_1() -> None:
    assert MISSION - {name for name, version in EVENT_TYPES if version == 1} == set()


def test_every_event_class_in_a_module_is_listed_in_its_events() -> None:
    for module in MODULES:
        defined = {
            obj
            for obj in vars(module).values()
            if inspect.isclass(obj) and issubclass(obj, Event) and obj.__module__ == module.__name__
            and "type_name" in vars(obj)
        }
        assert defined == set(module.EVENTS), module.__name__


@pytest.mark.parametrize("cls", ALL, ids=ids)
def test_type_names_are_the_class_name_and_versions_are_positive(cls) -> None:
    assert cls.version >= 1
    expected = cls.type_name if cls.version == 1 else f"{cls.type_name}V{cls.version}"
    assert cls.__name__ == expected


@pytest.mark.parametrize("module", list(PRODUCER_TOPIC), ids=lambda m: m.__name__.rsplit(".", 1)[-1])
def test_a_module_holds_only_what_its_producer_publishes(module) -> None:
    assert {cls.topic for cls in module.EVENTS} == {PRODUCER_TOPIC[module]}


@pytest.mark.parametrize("cls", ALL, ids=ids)
def test_the_key_field_is_a_required_string_field_of_the_event(cls) -> None:
    field = cls.model_fields.get(cls.key_field)

    assert field is not None, f"{cls.type_name} has no field {cls.key_field}"
    assert field.annotation is str and field.is_required()


@pytest.mark.parametrize("cls", ALL, ids=ids)
def test_events_about_a_student_are_keyed_by_student(cls) -> None:
    # Per-student order matters (check-in before check-out); school-level events have no student.
    if cls.model_fields.get("student_id") and cls.model_fields["student_id"].is_required():
        assert cls.key_field == "student_id"


@pytest.mark.parametrize("cls", ALL, ids=ids)
def test_money_is_integer_fen_and_nothing_is_a_float(cls) -> None:
    for path, name, sub in schema_properties(envelope_schema(cls)):
        kinds = types_of(sub)
        assert "number" not in kinds, f"{path} is a float"
        if name.endswith("_fen"):
            assert kinds and kinds <= {"integer", "null"}, f"{path} must be an integer"
        elif any(word in name for word in ("amount", "price", "fee", "income", "balance", "refunded")):
            assert "integer" not in kinds, f"{path} looks like money: name it with a _fen suffix"


@pytest.mark.parametrize("cls", ALL, ids=ids)
def test_times_are_aware_and_days_are_dates(cls) -> None:
    for model in models_in(cls):
        for name, field in model.model_fields.items():
            hints = leaf_types(field.annotation)
            assert datetime not in hints, f"{model.__name__}.{name}: a naive-capable datetime; use UtcDatetime"
            if AwareDatetime in hints:
                assert name.endswith("_at"), f"{model.__name__}.{name}: instants end in _at"
            if name.endswith("_at"):
                assert AwareDatetime in hints, f"{model.__name__}.{name} should be an aware datetime"
            if name.endswith(("_on", "_date", "_start", "_end", "_from", "_until")) and name != "period":
                assert date in hints or str in hints, f"{model.__name__}.{name}"


@pytest.mark.parametrize("cls", ALL, ids=ids)
def test_a_naive_time_is_rejected_in_every_time_field(cls) -> None:
    time_fields = [n for n, f in cls.model_fields.items() if n.endswith("_at")]
    for name in time_fields:
        payload = {**example_payload(cls), name: "2025-09-12T09:42:00"}
        with pytest.raises(ValidationError, match=name):
            cls.model_validate(payload)


@pytest.mark.parametrize("cls", ALL, ids=ids)
def test_every_action_records_who_did_it(cls) -> None:
    # R27: an actor id field ending in _by; events recorded before roles were carried keep them optional.
    actors = [n for n in cls.model_fields if n.endswith("_by")]

    assert actors, f"{cls.type_name} does not say who did it"
    for actor in actors:
        assert f"{actor}_role" in cls.model_fields, f"{cls.type_name}.{actor} has no role"


@pytest.mark.parametrize("cls", ALL, ids=ids)
def test_every_event_has_a_docstring_citing_a_requirement(cls) -> None:
    assert cls.__doc__ and cls.__doc__.strip()
    assert re.search(r"\bR[0-9]+\b", cls.__doc__), f"{cls.type_name}: cite the R-numbers it comes from"


@pytest.mark.parametrize("cls", ALL, ids=ids)
def test_every_field_has_a_description_and_an_example(cls) -> None:
    for model in models_in(cls):
        assert model.__doc__, f"{model.__name__} has no docstring"
        for name, field in model.model_fields.items():
            assert field.description, f"{model.__name__}.{name} has no description"
            assert field.examples, f"{model.__name__}.{name} has no example"


@pytest.mark.parametrize("cls", ALL, ids=ids)
def test_field_examples_make_a_valid_event(cls) -> None:
    cls.model_validate(example_payload(cls))


def test_guardian_registered_keeps_the_fields_other_services_rely_on() -> None:
    fields = enrollment.GuardianRegistered.model_fields
    required = {n for n, f in fields.items() if f.is_required()}

    assert enrollment.GuardianRegistered.key_field == "guardian_id"
    assert required == {"guardian_id", "school_id", "student_ids", "name", "phone_masked", "phone_sealed", "consent", "registered_by"}
    assert fields["locale"].default == "zh-CN"
    assert fields["push_token_sealed"].default is None


def test_application_submitted_keeps_the_fields_other_services_rely_on() -> None:
    fields = enrollment.ApplicationSubmitted.model_fields
    required = {n for n, f in fields.items() if f.is_required()}

    assert enrollment.ApplicationSubmitted.key_field == "student_id"
    assert required == {
        "application_id", "programme_id", "school_id", "student_id", "student_name", "guardian_id",
        "submitted_by", "consent", "submitted_at",
    }  # fmt: skip
    assert fields["on_behalf"].default is False and fields["hardship"].default is False


def test_a_plain_phone_number_is_not_accepted_as_masked() -> None:
    payload = {**example_payload(enrollment.GuardianRegistered), "phone_masked": "13812345678"}

    with pytest.raises(ValidationError, match="phone_masked"):
        enrollment.GuardianRegistered.model_validate(payload)


def test_expenses_can_only_be_in_the_r19_categories() -> None:
    payload = {**example_payload(billing.ExpenseRecorded), "category": "management_fee"}

    with pytest.raises(ValidationError, match="category"):
        billing.ExpenseRecorded.model_validate(payload)
