"""Witness cosignatures (C2SP tlog-cosignature/v1) and the k-of-n witness policy (R24, R26)."""

from __future__ import annotations

import base64

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from services.audit.ledger.checkpoint import (
    Checkpoint,
    NoteError,
    NoteVerificationError,
    format_checkpoint,
    generate_signer,
    load_signer,
)
from services.audit.ledger.witness import (
    QuorumError,
    WitnessKey,
    _key_id,
    add_checkpoint_body,
    cosign,
    cosignatures,
    load_policy,
    load_witness_key,
    with_cosignatures,
)

ORIGIN = "beilei.test/ledger"


def _witness(name: str) -> tuple[Ed25519PrivateKey, WitnessKey]:
    key = Ed25519PrivateKey.generate()
    raw = key.public_key().public_bytes_raw()
    return key, WitnessKey(name, _key_id(name, raw), key.public_key())


@pytest.fixture
def log():
    skey, vkey = generate_signer(ORIGIN)
    return load_signer(skey), vkey


def _note(signer, size: int = 3, root: bytes = b"\x01" * 32) -> str:
    return signer.sign_note(format_checkpoint(Checkpoint(ORIGIN, size, root)))


def test_a_witness_key_round_trips_through_its_vkey_and_a_wrong_id_is_refused():
    _, w = _witness("w.example/one")
    assert load_witness_key(w.vkey) == w
    name, kid, key = w.vkey.split("+", 2)
    with pytest.raises(NoteError, match="key ID"):
        load_witness_key(f"{name}+{'0' * 8 if kid != '0' * 8 else '1' * 8}+{key}")


def test_a_log_key_is_not_a_witness_key(log):
    with pytest.raises(NoteError, match="0x04"):
        load_witness_key(log[1])


def test_cosignatures_verify_and_carry_their_timestamp(log):
    signer, _ = log
    key, w = _witness("w.example/one")
    note = with_cosignatures(_note(signer), [cosign(_note(signer), w.name, key, 1_700_000_000)])
    [found] = cosignatures(note, [w.vkey])
    assert (found.witness, found.timestamp) == (w.name, 1_700_000_000)


def test_a_cosignature_of_another_checkpoint_is_refused(log):
    signer, _ = log
    key, w = _witness("w.example/one")
    other = cosign(_note(signer, size=4), w.name, key, 1)
    with pytest.raises(NoteVerificationError, match="w.example/one"):
        cosignatures(with_cosignatures(_note(signer), [other]), [w])


def test_with_cosignatures_keeps_the_log_signature_and_adds_each_line_once(log):
    signer, vkey = log
    key, w = _witness("w.example/one")
    line = cosign(_note(signer), w.name, key, 5)
    note = with_cosignatures(with_cosignatures(_note(signer), [line]), [line])
    assert note.count(line) == 1 and note.startswith(_note(signer).rstrip("\n"))


def test_the_policy_requires_its_quorum_and_names_who_cosigned(log):
    signer, vkey = log
    keys = [_witness(f"w.example/{i}") for i in range(3)]
    policy = load_policy("# two of three\n" + "".join(f"witness {w.vkey}\n" for _, w in keys) + "quorum 2\n")
    one = with_cosignatures(_note(signer), [cosign(_note(signer), keys[0][1].name, keys[0][0], 9)])
    with pytest.raises(QuorumError, match=r"cosigned by 1 of the 2 .*cosigned: w.example/0; not: w.example/1, w"):
        policy.check(one, [vkey])
    two = with_cosignatures(one, [cosign(one, keys[2][1].name, keys[2][0], 9)])
    assert [c.witness for c in policy.check(two, [vkey], origin=ORIGIN)] == ["w.example/0", "w.example/2"]


def test_a_cosignature_by_an_unknown_witness_does_not_count(log):
    signer, vkey = log
    known_key, known = _witness("w.example/known")
    stranger_key, _ = _witness("w.example/known")  # same name, another key: not the policy's witness
    note = with_cosignatures(_note(signer), [cosign(_note(signer), known.name, stranger_key, 1)])
    with pytest.raises(QuorumError):
        load_policy(f"witness {known.vkey}\n").check(note, [vkey])


@pytest.mark.parametrize("text", ["quorum 3\nwitness {v}\n", "witness {v}\nwitness {v}\n", "witnesses {v}\n",
                                  "witness {v}\nquorum 1\nquorum 1\n"])
def test_a_policy_that_cannot_be_met_or_read_is_refused(text):
    _, w = _witness("w.example/one")
    with pytest.raises(NoteError):
        load_policy(text.format(v=w.vkey))


def test_the_add_checkpoint_body_is_the_old_size_the_proof_and_the_note(log):
    signer, _ = log
    proof_line = base64.b64encode(b"\x02" * 32).decode()
    body = add_checkpoint_body(2, [b"\x02" * 32], _note(signer)).decode()
    assert body == f"old 2\n{proof_line}\n\n{_note(signer)}"


def test_the_witnesses_setting_reads_url_and_key_pairs_and_refuses_anything_else():
    from services.audit.settings import Settings

    _, a = _witness("w.example/a")
    _, b = _witness("w.example/b")
    s = Settings(ledger_witnesses=f"http://a:7380 {a.vkey}, https://b.example {b.vkey}")
    assert s.witness_list() == [("http://a:7380", a.vkey), ("https://b.example", b.vkey)]
    assert Settings().witness_list() == []
    with pytest.raises(ValueError, match="not '<URL> <verifier key>'"):
        Settings(ledger_witnesses=a.vkey).witness_list()
