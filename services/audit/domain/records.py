"""Which events become ledger entries and the exact bytes each entry is (R24); no I/O."""
from __future__ import annotations

import json
from typing import Any

from shared.contracts.envelope import Envelope
from services.audit.ledger.books import MONEY_TYPES, RECORD_TYPES

__all__ = ["MONEY_TYPES", "RECORD_TYPES", "leaf_bytes", "leaf_document"]


def leaf_document(envelope: Envelope) -> tuple[bytes, dict[str, Any]]:
    """The bytes hashed into the Merkle tree, and the document they encode: the event exactly as
    published, as compact JSON (the codec's own encoding, shared.contracts.registry.encode).

    Re-encoding the decoded envelope keeps the payload as the producer sent it (unknown fields
    included) and normalises only the envelope's own formatting, so a redelivery of the same event
    gives the same bytes, while any change to what the event says gives different ones.
    """
    document = envelope.model_dump(mode="json")
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode("utf-8"), document


def leaf_bytes(envelope: Envelope) -> bytes:
    return leaf_document(envelope)[0]
