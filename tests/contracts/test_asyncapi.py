"""The generated AsyncAPI document: version, every event, every topic, and references that resolve."""
from __future__ import annotations

import json

import pytest

from shared.contracts import topics
from shared.contracts.asyncapi import asyncapi_document, channel_id, message_id
from shared.contracts.registry import EVENT_TYPES
from shared.contracts.snapshots import ASYNCAPI_PATH, WRITE_HINT


@pytest.fixture(scope="module")
def doc() -> dict:
    if not ASYNCAPI_PATH.exists():
        pytest.fail(f"docs/asyncapi.json is missing; {WRITE_HINT}")
    return json.loads(ASYNCAPI_PATH.read_text(encoding="utf-8"))


def refs(node: object):
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref":
                yield value
            else:
                yield from refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from refs(item)


def resolve(doc: dict, ref: str) -> object:
    node: object = doc
    for token in ref.removeprefix("#/").split("/"):
        node = node[token.replace("~1", "/").replace("~0", "~")]  # type: ignore[index]
    return node


def test_the_document_is_asyncapi_3_0_0_with_a_placeholder_kafka_server(doc: dict) -> None:
    assert doc["asyncapi"] == "3.0.0"
    assert doc["info"]["title"] == "Beilei events" and doc["info"]["version"]
    assert doc["servers"]["kafka"]["protocol"] == "kafka"
    assert doc["servers"]["kafka"]["host"] == "kafka:9092"
    assert "configured per deployment" in doc["servers"]["kafka"]["description"]


def test_the_document_lists_every_event_type_on_its_topic(doc: dict) -> None:
    for cls in EVENT_TYPES.values():
        channel = doc["channels"][channel_id(cls.topic)]
        assert message_id(cls) in channel["messages"], cls.type_name
        assert doc["components"]["messages"][message_id(cls)]["name"] == cls.type_name


def test_every_topic_is_a_channel_whose_address_is_the_topic(doc: dict) -> None:
    assert {c["address"] for c in doc["channels"].values()} == set(topics.ALL_TOPICS)


def test_the_kafka_key_of_each_message_is_described(doc: dict) -> None:
    for cls in EVENT_TYPES.values():
        key = doc["components"]["messages"][message_id(cls)]["bindings"]["kafka"]["key"]
        assert cls.key_field in key["description"]


def test_every_producer_sends_and_every_consumer_receives(doc: dict) -> None:
    operations = doc["operations"].values()
    sends = {(o["title"].split(" publishes on ")[0], o["channel"]["$ref"]) for o in operations if " publishes on " in o["title"]}
    receives = {(o["bindings"]["kafka"]["groupId"]["enum"][0], o["channel"]["$ref"]) for o in operations if o["action"] == "receive"}

    assert {(s, f"#/channels/{channel_id(t)}") for s, t in topics.PRODUCES.items()} <= sends
    assert receives == {(s, f"#/channels/{channel_id(t)}") for s, ts in topics.CONSUMES.items() for t in ts}


def test_every_reference_in_the_document_resolves(doc: dict) -> None:
    broken = []
    for ref in set(refs(doc)):
        try:
            resolve(doc, ref)
        except (KeyError, TypeError):
            broken.append(ref)

    assert broken == []


def test_the_committed_document_is_the_generated_one(doc: dict) -> None:
    assert doc == asyncapi_document(), WRITE_HINT


def test_the_services_route_serves_the_same_document() -> None:
    from shared.contracts.asyncapi import build_document

    assert build_document() == asyncapi_document()
