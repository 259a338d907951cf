"""Conformance of the ledger's Merkle proof verifiers with the transparency-dev/merkle test vectors."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from services.audit.ledger.merkle import (
    ProofError,
    verify_consistency,
    verify_inclusion,
    verify_subtree_inclusion,
)

VECTORS = Path(__file__).resolve().parents[2] / "data" / "merkle-vectors"

# Every file of these directories is run. The subtreeconsistency/ directory is deliberately not
# run: subtree consistency proofs come from an Internet-Draft (Merkle Tree Certificates), not
# RFC 9162, the ledger does not use them, and the upstream semantics for empty subtrees have
# changed between versions of the vectors (compare its additional/ files with proof/verify.go).
EXPECTED_FILE_COUNTS = {"inclusion": 98, "consistency": 98, "subtreeinclusion": 204}


def _vector_files(kind: str) -> list[str]:
    return sorted(p.relative_to(VECTORS / kind).as_posix() for p in (VECTORS / kind).rglob("*.json"))


def _load(kind: str, name: str) -> dict:
    return json.loads((VECTORS / kind / name).read_text(encoding="utf-8"))


def _bytes(value: str | None) -> bytes:
    # The vectors are Go JSON: []byte is standard base64 and a nil slice is null.
    return b"" if value is None else base64.b64decode(value, validate=True)


def _proof(value: list[str] | None) -> list[bytes]:
    return [] if value is None else [_bytes(item) for item in value]


def _check(vector: dict, verify) -> None:
    if vector["wantErr"]:
        with pytest.raises(ProofError):
            verify()
    else:
        verify()


def test_the_copied_vector_set_is_complete_and_holds_both_valid_and_mutated_proofs():
    for kind, count in EXPECTED_FILE_COUNTS.items():
        names = _vector_files(kind)
        assert len(names) == count, kind
        outcomes = {_load(kind, name)["wantErr"] for name in names}
        assert outcomes == {True, False}, kind
        for name in names:
            if name.endswith("/happy-path.json"):
                assert _load(kind, name)["wantErr"] is False, name


@pytest.mark.parametrize("name", _vector_files("inclusion"))
def test_an_inclusion_vector_verifies_exactly_when_it_is_a_valid_proof(name):
    v = _load("inclusion", name)
    _check(
        v,
        lambda: verify_inclusion(
            _bytes(v["leafHash"]), v["leafIdx"], v["treeSize"], _proof(v["proof"]), _bytes(v["root"])
        ),
    )


@pytest.mark.parametrize("name", _vector_files("consistency"))
def test_a_consistency_vector_verifies_exactly_when_it_is_a_valid_proof(name):
    v = _load("consistency", name)
    _check(
        v,
        lambda: verify_consistency(
            v["size1"], v["size2"], _proof(v["proof"]), _bytes(v["root1"]), _bytes(v["root2"])
        ),
    )


@pytest.mark.parametrize("name", _vector_files("subtreeinclusion"))
def test_a_subtree_inclusion_vector_verifies_exactly_when_it_is_a_valid_proof(name):
    v = _load("subtreeinclusion", name)
    _check(
        v,
        lambda: verify_subtree_inclusion(
            _bytes(v["leafHash"]),
            v["leafIdx"],
            v["start"],
            v["end"],
            _proof(v["proof"]),
            _bytes(v["root"]),
        ),
    )
