"""Which events become ledger entries and the exact bytes each entry is (R24); no I/O."""
from __future__ import annotations

import json
from typing import Any

from pydantic_core import from_json

from shared.contracts.envelope import Envelope
from services.audit.ledger import books
from services.audit.ledger.books import MONEY_TYPES, RECORD_TYPES
from services.audit.ledger.commitments import opening, seal

__all__ = ["MONEY_TYPES", "RECORD_TYPES", "leaf_bytes", "leaf_document", "read_entry", "read_recorded", "recorded_leaf",
           "recorded_opening"]

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


def recorded_leaf(seq: int, body: bytes, salt: bytes | None) -> bytes:
    """The leaf bytes of a recorded entry: the event itself (format 1, no salt) or the event sealed with
    its salt (format 2, personal fields committed; services.audit.ledger.commitments)."""
    return body if salt is None else seal(_document(body), salt, seq)


def read_recorded(seq: int, body: bytes, salt: bytes | None) -> tuple[bytes, books.Entry]:
    """(leaf bytes, what the event says) of a recorded entry, parsing it once."""
    if salt is None:
        return body, read_entry(body)
    document = _document(body)
    return seal(document, salt, seq), books.describe(document)


def recorded_opening(body: bytes, salt: bytes | None) -> dict[str, Any] | None:
    """What opens a format-2 entry's commitments (salt and values); None for format 1."""
    return None if salt is None else opening(_document(body), salt)


def read_entry(body: bytes) -> books.Entry:
    """books.read_entry, parsed by pydantic's JSON parser (a third of json.loads' cost; the checkpoint
    and the checks read every entry again). books stays on the standard library for the offline
    verifier; what this parser refuses (a lone surrogate, say) is read by books for the same answer."""
    try:
        document = from_json(body)
    except ValueError:
        return books.read_entry(body)
    return books.describe(document)
