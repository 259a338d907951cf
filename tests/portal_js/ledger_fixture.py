"""A small real ledger built with the audit service's own code, for the browser verifier's tests: entries
sealed in format 2 (a DisclosurePublished among fee records), its RFC 9162 tree, a checkpoint signed by the
log key and cosigned by two of three witnesses, and the disclosure's proof exactly as audit's public
`GET /v1/ledger/disclosures/{id}` answers it (DisclosureProof). Keys, salts and times are fixed, so the
output is the same on every run: `python -m tests.portal_js.ledger_fixture` rewrites fixture.json, and a test
fails when the committed file differs from what the audit's code builds today.

Test keys only (derived from their names); never a real ledger's."""

from __future__ import annotations

import base64
import hashlib
import json
import sys
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from services.audit.ledger.bundles import RECEIPT_EXTRA_FORMAT_2, Receipt, format_receipt, receipt_extra
from services.audit.ledger.checkpoint import Checkpoint, NoteSigner, format_checkpoint, key_id
from services.audit.ledger.commitments import opening, seal
from services.audit.ledger.merkle import consistency_proof, inclusion_proof, leaf_hash, root
from services.audit.ledger.witness import ALG_COSIGNATURE_V1, WitnessKey, cosign, with_cosignatures
from shared.contracts.billing import DisclosurePublished, ExpenseRecorded, FeeCharged, FeeSettled, PaymentReceived
from shared.contracts.schema import example_envelope

FIXTURE = Path(__file__).with_name("fixture.json")
ORIGIN = "beilei.test/ledger"
DISCLOSURE_ID = "dsc-0042-2025q3"
DISCLOSURE_INDEX = 5
STATEMENT_INDEX = 6  # a family's statement (FeeSettled), whose receipt the parent's page verifies
TREE_SIZE = 7
OLD_SIZE = 3
WITNESSES = ("witness-city-archive", "witness-district-07", "witness-university")
COSIGNING = WITNESSES[:2]
QUORUM = 2
COSIGNED_AT = 1_760_000_000


def _key(name: str) -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(hashlib.sha256(f"beilei test key {name}".encode()).digest())


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def log_signer() -> NoteSigner:
    private = _key(ORIGIN)
    return NoteSigner(ORIGIN, key_id(ORIGIN, private.public_key().public_bytes_raw()), private)


def witness_vkey(name: str) -> str:
    public = _key(name).public_key()
    kid = hashlib.sha256(name.encode() + b"\n" + bytes([ALG_COSIGNATURE_V1]) + public.public_bytes_raw()).digest()[:4]
    return WitnessKey(name, kid, public).vkey


def _documents() -> list[dict[str, Any]]:
    kinds = [FeeCharged, PaymentReceived, FeeCharged, ExpenseRecorded, PaymentReceived, DisclosurePublished,
             FeeSettled]
    documents = []
    for i, cls in enumerate(kinds):
        document = example_envelope(cls).model_dump(mode="json")
        document["event_id"] = f"00000000-0000-4000-8000-{i:012d}"
        documents.append(document)
    disclosure = documents[DISCLOSURE_INDEX]["payload"]
    disclosure.update(disclosure_id=DISCLOSURE_ID, ledger_tree_size=DISCLOSURE_INDEX)
    return documents


def signed_checkpoint(leaves: list[bytes], size: int, cosigners: tuple[str, ...]) -> str:
    note = log_signer().sign_note(format_checkpoint(Checkpoint(ORIGIN, size, root(leaves[:size]))))
    return with_cosignatures(note, [cosign(note, name, _key(name), COSIGNED_AT) for name in cosigners])


def _salt(i: int) -> bytes:
    return hashlib.sha256(f"salt {i}".encode()).digest()


def _receipts(documents: list[dict[str, Any]], entries: list[bytes], leaves: list[bytes], note: str) -> dict[str, Any]:
    """The family's receipt of its statement as audit writes it (receipt extra format 3), the same in the
    format 2 receipts carried before, and the statement as published."""
    document, entry = documents[STATEMENT_INDEX], entries[STATEMENT_INDEX]
    opened = opening(document, _salt(STATEMENT_INDEX))
    proof = tuple(inclusion_proof(leaves, STATEMENT_INDEX, TREE_SIZE))
    wrapped = json.dumps({"format": RECEIPT_EXTRA_FORMAT_2, "entry": _b64(entry), "opening": opened},
                         separators=(",", ":")).encode()
    return {
        "event_id": document["event_id"],
        "statement": document["payload"],
        "receipt": format_receipt(Receipt(STATEMENT_INDEX, proof, note, receipt_extra(entry, opened))),
        "receipt_format_2": format_receipt(Receipt(STATEMENT_INDEX, proof, note, wrapped)),
    }


def build() -> dict[str, Any]:
    """The fixture: the disclosure's figures, its proof as audit serves it, the keys a page carries, a
    consistency proof between two checkpoints of the same ledger, and a family's receipt of its statement."""
    documents = _documents()
    entries = [seal(d, _salt(i), i) for i, d in enumerate(documents)]
    leaves = [leaf_hash(e) for e in entries]
    note = signed_checkpoint(leaves, TREE_SIZE, COSIGNING)
    payload = documents[DISCLOSURE_INDEX]["payload"]
    return {
        "disclosure_id": DISCLOSURE_ID,
        "disclosure": payload,
        "keys": {"log_vkey": log_signer().vkey, "witness_vkeys": [witness_vkey(n) for n in WITNESSES],
                 "quorum": QUORUM},
        "proof": {
            "disclosure_id": DISCLOSURE_ID,
            "school_id": payload["school_id"],
            "index": DISCLOSURE_INDEX,
            "ledger_tree_size": DISCLOSURE_INDEX,
            "entry_format": 2,
            "entry": _b64(entries[DISCLOSURE_INDEX]),
            "leaf_hash": _b64(leaves[DISCLOSURE_INDEX]),
            "tree_size": TREE_SIZE,
            "inclusion_proof": [_b64(h) for h in inclusion_proof(leaves, DISCLOSURE_INDEX, TREE_SIZE)],
            "checkpoint": note,
        },
        "checkpoint_without_witnesses": signed_checkpoint(leaves, TREE_SIZE, COSIGNING[:1]),
        "family": _receipts(documents, entries, leaves, note),
        "consistency": {
            "old_size": OLD_SIZE,
            "old_root": _b64(root(leaves[:OLD_SIZE])),
            "new_size": TREE_SIZE,
            "new_root": _b64(root(leaves)),
            "proof": [_b64(h) for h in consistency_proof(leaves, OLD_SIZE, TREE_SIZE)],
        },
    }


def dumps(fixture: dict[str, Any]) -> str:
    return json.dumps(fixture, ensure_ascii=False, indent=2, sort_keys=True) + "\n"


if __name__ == "__main__":
    FIXTURE.write_text(dumps(build()), encoding="utf-8")
    sys.stdout.write(f"wrote {FIXTURE}\n")
