"""Unit tests for C2SP tlog-checkpoint bodies and Ed25519 signed notes."""

from __future__ import annotations

import base64
import re

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from services.audit.ledger.checkpoint import (
    Checkpoint,
    CheckpointError,
    NoteError,
    NoteSigner,
    NoteVerificationError,
    format_checkpoint,
    generate_signer,
    key_id,
    load_signer,
    load_verifier,
    open_checkpoint,
    open_note,
    parse_checkpoint,
    sign_note,
    vkey_from_signer,
)
from services.audit.ledger.merkle import leaf_hash, root

EM_DASH = "\u2014"

# Known answer from the documentation of golang.org/x/mod/sumdb/note (the reference
# implementation of signed notes): key pair, text and the exact signed note.
GO_SKEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
GO_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
GO_TEXT = (
    "If you think cryptography is the answer to your problem,\n"
    "then you don't know what your problem is.\n"
)
GO_NOTE = (
    GO_TEXT
    + "\n"
    + EM_DASH
    + " PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"
)

# The worked example of the C2SP signed-note specification.
SPEC_VKEY = "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k"
SPEC_NOTE = (
    "This is an example message.\n\n"
    + EM_DASH
    + " example.com/foo Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6TfXppzi2ONncAlTgK7Ztg1ERYNZXsYjOBH3mFXmRKuwHjG1Yu72IneyaQM=\n"
)

# The example checkpoint body of the C2SP tlog-checkpoint specification.
SPEC_CHECKPOINT = (
    "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
)

ORIGIN = "beilei.example/audit/fees"


@pytest.fixture(scope="module")
def log_key() -> tuple[str, str]:
    return generate_signer(ORIGIN)


@pytest.fixture(scope="module")
def checkpoint() -> Checkpoint:
    hashes = [leaf_hash(f"fee-{i}".encode()) for i in range(10)]
    return Checkpoint(ORIGIN, 10, root(hashes))


def _vkey_for(name: str, private_key: Ed25519PrivateKey) -> str:
    public = private_key.public_key().public_bytes_raw()
    return NoteSigner(name, key_id(name, public), private_key).vkey


def _signature_blob(note: str) -> tuple[str, bytes]:
    text, line = note.rsplit("\n\n", 1)
    name_and_sig = line.rstrip("\n").split(" ")
    return text + "\n\n" + " ".join(name_and_sig[:2]) + " ", base64.b64decode(name_and_sig[2])


# --------------------------------------------------------------------------- checkpoints


def test_the_specification_example_checkpoint_parses_and_formats_back_identically():
    cp = parse_checkpoint(SPEC_CHECKPOINT)
    assert cp.origin == "example.com/behind-the-sofa"
    assert cp.size == 20852163
    assert cp.root_hash == base64.b64decode("CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=")
    assert cp.extensions == ()
    assert format_checkpoint(cp) == SPEC_CHECKPOINT


def test_a_checkpoint_with_extension_lines_round_trips(checkpoint):
    cp = Checkpoint(checkpoint.origin, checkpoint.size, checkpoint.root_hash, ("ext one", "— two"))
    text = format_checkpoint(cp)
    assert text.endswith("\next one\n— two\n")
    assert parse_checkpoint(text) == cp


def test_a_checkpoint_of_the_empty_tree_has_size_zero():
    cp = Checkpoint("log", 0, root([]))
    assert format_checkpoint(cp).split("\n")[1] == "0"
    assert parse_checkpoint(format_checkpoint(cp)) == cp


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("example.com/log\n10\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=", id="no final newline"),
        pytest.param("example.com/log\n10\n", id="no root line"),
        pytest.param("\n10\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n", id="empty origin"),
        pytest.param("log\n010\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n", id="leading zero"),
        pytest.param("log\n+10\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n", id="signed size"),
        pytest.param("log\n 10\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n", id="spaced size"),
        pytest.param("log\n\u0661\u0660\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n", id="non-ASCII digits"),
        pytest.param("log\n18446744073709551616\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n", id="size over 64 bits"),
        pytest.param("log\n10\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I\n", id="unpadded root"),
        pytest.param("log\n10\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2J=\n", id="non-canonical root"),
        pytest.param("log\n10\nAAAA\n", id="short root"),
        pytest.param("log\n10\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n\n", id="empty extension"),
        pytest.param("log\n10\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\nx\ty\n", id="control char"),
    ],
)
def test_a_malformed_checkpoint_body_is_rejected(text):
    with pytest.raises(CheckpointError):
        parse_checkpoint(text)


def test_a_checkpoint_cannot_be_built_from_invalid_fields():
    good = b"\x00" * 32
    for args in [("", 1, good), ("a\nb", 1, good), ("log", -1, good), ("log", True, good),
                 ("log", 2**64, good), ("log", 1, good[:31]), ("log", 1, good, ("",))]:
        with pytest.raises(CheckpointError):
            Checkpoint(*args)


# --------------------------------------------------------------------------- keys


def test_the_reference_signer_key_signs_exactly_the_reference_note():
    signer = load_signer(GO_SKEY)
    assert signer.name == "PeterNeumann"
    assert signer.key_id.hex() == "c74f20a3"
    assert vkey_from_signer(signer) == vkey_from_signer(GO_SKEY) == GO_VKEY
    assert sign_note(GO_TEXT, signer.name, signer.private_key) == GO_NOTE
    assert open_note(GO_NOTE, [GO_VKEY]) == GO_TEXT


def test_the_specification_example_note_verifies_with_its_verifier_key():
    verifier = load_verifier(SPEC_VKEY)
    assert verifier.vkey == SPEC_VKEY
    assert open_note(SPEC_NOTE, [SPEC_VKEY]) == "This is an example message.\n"
    assert open_note(SPEC_NOTE.encode("utf-8"), [verifier]) == "This is an example message.\n"


def test_a_generated_key_pair_uses_the_note_key_formats_and_matches_itself(log_key):
    skey, vkey = log_key
    assert re.fullmatch(r"PRIVATE\+KEY\+beilei\.example/audit/fees\+[0-9a-f]{8}\+[A-Za-z0-9+/]{44}", skey)
    assert re.fullmatch(r"beilei\.example/audit/fees\+[0-9a-f]{8}\+[A-Za-z0-9+/]{44}", vkey)
    signer = load_signer(skey)
    assert vkey_from_signer(skey) == vkey == signer.vkey
    public = base64.b64decode(vkey.split("+", 2)[2])
    assert public[0] == 0x01
    assert key_id(ORIGIN, public[1:]) == signer.key_id
    assert skey.split("+")[3] == vkey.split("+")[1] == signer.key_id.hex()


def test_a_key_string_with_a_wrong_id_type_or_shape_is_rejected():
    prefix, name, kid, encoded = "PRIVATE+KEY+", "PeterNeumann", "c74f20a3", GO_SKEY.split("+", 4)[4]
    seed = base64.b64decode(encoded)[1:]
    bad_signers = [
        f"{prefix}{name}+c74f20a4+{encoded}",
        f"{prefix}{name}+C74F20A3+{encoded}",
        f"{prefix}Peter+{kid}+{encoded}",
        f"{prefix}{name}+{kid}+" + base64.b64encode(b"\x02" + seed).decode(),
        f"{prefix}{name}+{kid}+" + base64.b64encode(b"\x01" + seed[:31]).decode(),
        f"PRIVATE+{name}+{kid}+{encoded}",
        GO_VKEY,
        f"{prefix}{name}+{kid}",
    ]
    for skey in bad_signers:
        with pytest.raises(NoteError):
            load_signer(skey)
    vname, vkid, vencoded = GO_VKEY.split("+", 2)
    for vkey in [f"{vname}+c74f20a4+{vencoded}", f"Peter Neumann+{vkid}+{vencoded}", f"{vname}+{vkid}",
                 f"{vname}+{vkid}+" + base64.b64encode(b"\x04" + base64.b64decode(vencoded)[1:]).decode()]:
        with pytest.raises(NoteError):
            load_verifier(vkey)


# --------------------------------------------------------------------------- signed notes


def test_a_signed_checkpoint_verifies_and_parses_back(log_key, checkpoint):
    skey, vkey = log_key
    signer = load_signer(skey)
    note = signer.sign_note(format_checkpoint(checkpoint))
    text, sig_line = note.split("\n\n")
    assert text + "\n" == format_checkpoint(checkpoint)
    assert sig_line.startswith(f"{EM_DASH} {ORIGIN} ")
    assert len(base64.b64decode(sig_line.split(" ")[2])) == 4 + 64
    assert open_checkpoint(note, [vkey], origin=ORIGIN) == checkpoint
    with pytest.raises(CheckpointError):
        open_checkpoint(note, [vkey], origin="another.example/log")


@pytest.mark.parametrize("position", [0, 5, len(ORIGIN) + 1, len(ORIGIN) + 5])
def test_a_note_whose_body_was_changed_by_one_character_is_rejected(log_key, checkpoint, position):
    skey, vkey = log_key
    note = load_signer(skey).sign_note(format_checkpoint(checkpoint))
    replacement = "7" if note[position] != "7" else "8"
    tampered = note[:position] + replacement + note[position + 1 :]
    with pytest.raises(NoteVerificationError):
        open_note(tampered, [vkey])


@pytest.mark.parametrize("byte_index", [0, 3, 4, 30, 67])
def test_a_note_whose_signature_has_a_flipped_byte_is_rejected(log_key, checkpoint, byte_index):
    skey, vkey = log_key
    note = load_signer(skey).sign_note(format_checkpoint(checkpoint))
    head, blob = _signature_blob(note)
    flipped = bytearray(blob)
    flipped[byte_index] ^= 0x01
    tampered = head + base64.b64encode(bytes(flipped)).decode() + "\n"
    with pytest.raises(NoteVerificationError):
        open_note(tampered, [vkey])


def test_a_note_signed_only_by_an_unknown_key_is_rejected(log_key, checkpoint):
    _, vkey = log_key
    other_skey, other_vkey = generate_signer(ORIGIN)  # same name, different key and key ID
    note = load_signer(other_skey).sign_note(format_checkpoint(checkpoint))
    with pytest.raises(NoteVerificationError):
        open_note(note, [vkey])
    with pytest.raises(NoteVerificationError):
        open_note(note, [GO_VKEY])
    assert open_note(note, [vkey, other_vkey]) == format_checkpoint(checkpoint)


def test_signatures_from_unknown_keys_are_ignored_next_to_a_valid_one(log_key, checkpoint):
    skey, vkey = log_key
    text = format_checkpoint(checkpoint)
    witness = Ed25519PrivateKey.generate()
    witness_line = sign_note(text, "witness.example/w1", witness).split("\n\n")[1]
    note = load_signer(skey).sign_note(text)
    assert open_note(note + witness_line, [vkey]) == text
    assert open_note(text + "\n" + witness_line + note.split("\n\n")[1], [vkey]) == text


def test_a_bad_signature_from_a_known_key_rejects_the_note_even_next_to_a_valid_one(log_key, checkpoint):
    skey, vkey = log_key
    text = format_checkpoint(checkpoint)
    witness = Ed25519PrivateKey.generate()
    witness_note = sign_note(text, "witness.example/w1", witness)
    witness_vkey = _vkey_for("witness.example/w1", witness)
    head, blob = _signature_blob(witness_note)
    forged_line = head.split("\n\n")[1] + base64.b64encode(blob[:4] + bytes(64)).decode() + "\n"
    signed = load_signer(skey).sign_note(text)
    assert open_note(signed + witness_note.split("\n\n")[1], [vkey, witness_vkey]) == text
    note = signed + forged_line
    with pytest.raises(NoteVerificationError):
        open_note(note, [vkey, witness_vkey])


def test_a_malformed_signed_note_is_rejected(log_key, checkpoint):
    skey, vkey = log_key
    text = format_checkpoint(checkpoint)
    note = load_signer(skey).sign_note(text)
    sig_line = note.split("\n\n")[1]
    unknown = sign_note(text, "x", Ed25519PrivateKey.generate()).split("\n\n")[1]
    malformed = [
        note[:-1],  # no final newline
        text + sig_line,  # no blank line before the signatures
        text + "\n",  # no signature lines
        note.replace(EM_DASH, "-"),  # not an em dash
        note.replace(EM_DASH + " ", EM_DASH),  # no space after the em dash
        note[:-3] + "!=\n",  # not base64
        note.replace("\n\n", "\n\r\n"),  # control character
        text + "\n" + unknown * 101 + sig_line,  # too many signatures
        text + "\n" + EM_DASH + " x AAAA\n" + sig_line,  # signature shorter than a key ID
    ]
    for bad in malformed:
        with pytest.raises(NoteError):
            open_note(bad, [vkey])
    with pytest.raises(NoteError):
        open_note(note.encode("utf-8") + b"\xff\n", [vkey])


def test_signing_refuses_text_or_names_the_format_cannot_carry():
    key = Ed25519PrivateKey.generate()
    for text, name in [("no newline", "n"), ("tab\there\n", "n"), ("ok\n", ""), ("ok\n", "a b"),
                       ("ok\n", "a+b"), ("ok\n", "a\u00a0b")]:
        with pytest.raises(NoteError):
            sign_note(text, name, key)
    assert open_note(sign_note("multi\n\nline\n", "n", key), [_vkey_for("n", key)]) == "multi\n\nline\n"


def test_conflicting_verifier_keys_for_one_name_and_id_are_refused():
    verifier = load_verifier(GO_VKEY)
    assert open_note(GO_NOTE, [verifier, GO_VKEY]) == GO_TEXT
    impostor = type(verifier)(verifier.name, verifier.key_id, load_verifier(SPEC_VKEY).public_key)
    with pytest.raises(NoteError):
        open_note(GO_NOTE, [verifier, impostor])
