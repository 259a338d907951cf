"""Which events become ledger entries and the exact bytes each entry is (R24); no I/O."""
from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

from pydantic_core import from_json

from services.audit.ledger import books
from services.audit.ledger.books import MONEY_TYPES, RECORD_TYPES
from services.audit.ledger.commitments import open_entry
from shared.contracts.envelope import Envelope

__all__ = ["MONEY_TYPES", "RECORD_TYPES", "leaf_bytes", "leaf_document", "opened_document", "published_bytes",
           "read_entry", "read_signed_entry", "recorded_opening"]

# One encoder, not one per entry: json.dumps builds a new one whenever it is given options.
_LEAF_JSON = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


def leaf_document(envelope: Envelope) -> tuple[bytes, dict[str, Any]]:
    """The bytes hashed into the Merkle tree, and the document they encode: the event exactly as
    published, as compact JSON (the codec's own encoding, shared.contracts.registry.encode).

    Re-encoding the decoded envelope keeps the payload as the producer sent it (unknown fields
    included) and normalises only the envelope's own formatting, so a redelivery of the same event
    gives the same bytes, while any change to what the event says gives different ones.
    """
    document = envelope.model_dump(mode="json")
    return _LEAF_JSON.encode(document).encode("utf-8"), document


def leaf_bytes(envelope: Envelope) -> bytes:
    return leaf_document(envelope)[0]


def _document(body: bytes) -> dict[str, Any]:
    try:
        return from_json(body)
    except ValueError:  # what pydantic's parser refuses (a lone surrogate, say), the standard one reads
        return json.loads(body)


def recorded_opening(opening: bytes | None) -> dict[str, Any] | None:
    """What opens a format-2 entry's commitments (salt and values) as stored beside it; None for format 1."""
    return None if opening is None else json.loads(opening)


def opened_document(body: bytes, opening: bytes | None) -> dict[str, Any]:
    """The event as published, of an entry of either format: a format-2 entry opened with its stored
    opening, each commitment checked (a changed row fails here rather than feed the checks)."""
    return _document(body) if opening is None else open_entry(body, json.loads(opening))


def published_bytes(body: bytes, opening: bytes | None) -> bytes:
    """The event as published, as compact JSON, of an entry of either format (see opened_document)."""
    return body if opening is None else _LEAF_JSON.encode(opened_document(body, opening)).encode("utf-8")


def read_signed_entry(body: bytes, event_id: str) -> books.Entry:
    """What an entry says about money, from its leaf bytes alone (a format-2 entry's figures are in the
    clear), named by the event id recorded beside it when the leaf commits to it."""
    try:
        document = from_json(body)
    except ValueError:
        return replace(books.read_entry(body), event_id=event_id)
    if isinstance(document, dict) and "event_id" not in document:
        document["event_id"] = event_id
    return books.describe(document)


def read_entry(body: bytes) -> books.Entry:
    """books.read_entry, parsed by pydantic's JSON parser (a third of json.loads' cost; the checkpoint
    and the checks read every entry again). books stays on the standard library for the offline
    verifier; what this parser refuses (a lone surrogate, say) is read by books for the same answer."""
    try:
        document = from_json(body)
    except ValueError:
        return books.read_entry(body)
    return books.describe(document)
