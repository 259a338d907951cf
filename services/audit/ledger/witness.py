"""Witness cosignatures (C2SP tlog-cosignature/v1, tlog-witness) and the k-of-n witness policy.

A witness keeps the latest checkpoint it cosigned for each log and cosigns a new one only when given a
consistency proof from that size (C2SP tlog-witness add-checkpoint). A log key that signs a rewritten
tail or a second root for a size it already published gets no cosignature from an honest witness, so an
auditor who requires a quorum of known witnesses cannot be shown a history the witnesses did not see
grow by appends alone (R24, R26).

Standard library and `cryptography` only, like the rest of this package (the offline verifier uses it).
"""

from __future__ import annotations

import base64
import hashlib
import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from services.audit.ledger.checkpoint import (
    _SIG_PREFIX,
    NoteError,
    NoteVerificationError,
    _b64decode,
    _check_key_name,
    open_note,
    parse_checkpoint,
)

__all__ = [
    "ALG_COSIGNATURE_V1",
    "Cosignature",
    "QuorumError",
    "WitnessKey",
    "WitnessPolicy",
    "add_checkpoint_body",
    "cosign",
    "cosignatures",
    "load_policy",
    "load_witness_key",
    "with_cosignatures",
]

ALG_COSIGNATURE_V1 = 0x04
"""Signature type byte of timestamped Ed25519 witness cosignatures (C2SP tlog-cosignature)."""

_HEADER = "cosignature/v1\ntime {}\n"


class QuorumError(NoteVerificationError):
    """A checkpoint lacks the cosignatures of the quorum of known witnesses the policy requires."""


def _key_id(name: str, public_key: bytes) -> bytes:
    return hashlib.sha256(name.encode("utf-8") + b"\n" + bytes([ALG_COSIGNATURE_V1]) + public_key).digest()[:4]


def _signed_message(timestamp: int, checkpoint_text: str) -> bytes:
    return (_HEADER.format(timestamp) + checkpoint_text).encode("utf-8")


@dataclass(frozen=True)
class WitnessKey:
    """A witness's cosignature/v1 verifier key: `<name>+<hex key id>+<base64(0x04 || public key)>`."""

    name: str
    key_id: bytes
    public_key: Ed25519PublicKey

    @property
    def vkey(self) -> str:
        raw = bytes([ALG_COSIGNATURE_V1]) + self.public_key.public_bytes_raw()
        return f"{self.name}+{self.key_id.hex()}+{base64.b64encode(raw).decode('ascii')}"

    def verify(self, checkpoint_text: str, signature: bytes) -> int | None:
        """The cosignature's timestamp if `signature` (timestamp || Ed25519 signature) is this witness's
        cosignature of the checkpoint text, else None."""
        if len(signature) != 8 + 64:
            return None
        (timestamp,) = struct.unpack(">Q", signature[:8])
        try:
            self.public_key.verify(signature[8:], _signed_message(timestamp, checkpoint_text))
        except InvalidSignature:
            return None
        return timestamp


def load_witness_key(vkey: str | WitnessKey) -> WitnessKey:
    """Parse a witness verifier key (signature type 0x04); litewitness prints it at start."""
    if isinstance(vkey, WitnessKey):
        return vkey
    parts = vkey.strip().split("+", 2) if isinstance(vkey, str) else []
    if len(parts) != 3:
        raise NoteError("witness key must be <name>+<key id>+<key>")
    name, hex_id, encoded = parts
    name = _check_key_name(name)
    raw = _b64decode(encoded, "witness key", NoteError)
    if len(raw) != 33 or raw[0] != ALG_COSIGNATURE_V1:
        raise NoteError("witness key is not a cosignature/v1 (type 0x04) Ed25519 key")
    kid = _key_id(name, raw[1:])
    if kid.hex() != hex_id:
        raise NoteError("witness key ID does not match its name and key")
    return WitnessKey(name, kid, Ed25519PublicKey.from_public_bytes(raw[1:]))


@dataclass(frozen=True)
class Cosignature:
    """One witness's verified cosignature of a checkpoint."""

    witness: str
    timestamp: int
    line: str


def _split(signed_note: str) -> tuple[str, list[str]]:
    split = signed_note.rfind("\n\n")
    if split < 0 or not signed_note.endswith("\n"):
        raise NoteError("signed note has no blank line before its signatures")
    return signed_note[: split + 1], signed_note[split + 2 : -1].split("\n")


def cosignatures(signed_note: str, witnesses: Iterable[str | WitnessKey]) -> list[Cosignature]:
    """The valid cosignatures of known witnesses on a signed note (lines of unknown keys are ignored;
    a known witness's line that does not verify is an error, as for any known key in a signed note)."""
    table = {(w.name, w.key_id): w for w in map(load_witness_key, witnesses)}
    text, lines = _split(signed_note)
    found: dict[str, Cosignature] = {}
    for line in lines:
        if not line.startswith(_SIG_PREFIX):
            raise NoteError("signature line does not start with an em dash and a space")
        name, _, encoded = line[len(_SIG_PREFIX) :].partition(" ")
        raw = _b64decode(encoded, "signature", NoteError)
        witness = table.get((name, raw[:4]))
        if witness is None:
            continue
        timestamp = witness.verify(text, raw[4:])
        if timestamp is None:
            raise NoteVerificationError(f"invalid cosignature from known witness {name!r}")
        found.setdefault(name, Cosignature(name, timestamp, line))
    return list(found.values())


def with_cosignatures(signed_note: str, lines: Iterable[str]) -> str:
    """The signed note with extra signature lines appended (those it already has are not repeated)."""
    text, have = _split(signed_note)
    extra = [line for line in dict.fromkeys(lines) if line not in have]
    return text + "\n" + "\n".join(have + extra) + "\n"


def add_checkpoint_body(old_size: int, proof: Sequence[bytes], signed_note: str) -> bytes:
    """The body of a C2SP tlog-witness add-checkpoint request."""
    lines = [f"old {old_size}", *(base64.b64encode(h).decode("ascii") for h in proof)]
    return ("\n".join(lines) + "\n\n" + signed_note).encode("utf-8")


def cosign(signed_note: str, name: str, private_key: Ed25519PrivateKey, timestamp: int) -> str:
    """A cosignature line for the note's checkpoint, as a witness would make it (for tests and tooling)."""
    text, _ = _split(signed_note)
    raw_public = private_key.public_key().public_bytes_raw()
    sig = struct.pack(">Q", timestamp) + private_key.sign(_signed_message(timestamp, text))
    return f"{_SIG_PREFIX}{name} {base64.b64encode(_key_id(name, raw_public) + sig).decode('ascii')}"


@dataclass(frozen=True)
class WitnessPolicy:
    """Which witnesses an auditor trusts and how many of them must have cosigned (k of n)."""

    witnesses: tuple[WitnessKey, ...]
    quorum: int

    def __post_init__(self) -> None:
        if not 0 <= self.quorum <= len(self.witnesses):
            raise NoteError(f"a quorum of {self.quorum} of {len(self.witnesses)} witnesses cannot be met")

    @property
    def names(self) -> list[str]:
        return [w.name for w in self.witnesses]

    def check(self, signed_note: str, log_keys: Iterable[str], origin: str | None = None) -> list[Cosignature]:
        """Verify the log's signature and the quorum of witness cosignatures; return who cosigned.
        Raises QuorumError naming who did and who did not when fewer than `quorum` known witnesses did."""
        checkpoint = parse_checkpoint(open_note(signed_note, log_keys))
        if origin is not None and checkpoint.origin != origin:
            raise NoteError(f"checkpoint origin {checkpoint.origin!r} is not {origin!r}")
        found = cosignatures(signed_note, self.witnesses)
        if len(found) < self.quorum:
            signed = [c.witness for c in found]
            missing = [n for n in self.names if n not in signed]
            raise QuorumError(
                f"checkpoint of size {checkpoint.size} is cosigned by {len(found)} of the {self.quorum} known "
                f"witnesses required (cosigned: {', '.join(signed) or 'none'}; not: {', '.join(missing)})")
        return found


def load_policy(text: str) -> WitnessPolicy:
    """Parse a policy file: `witness <vkey>` lines and one `quorum <k>` line (`#` starts a comment).
    Without a quorum line every listed witness is required."""
    witnesses: list[WitnessKey] = []
    quorum: int | None = None
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        word, _, rest = line.partition(" ")
        if word == "witness" and rest.strip():
            witnesses.append(load_witness_key(rest.strip()))
        elif word == "quorum" and rest.strip().isdigit() and quorum is None:
            quorum = int(rest.strip())
        else:
            raise NoteError(f"policy line {number}: expected 'witness <vkey>' or one 'quorum <k>'")
    if len({w.name for w in witnesses}) != len(witnesses):
        raise NoteError("policy names a witness twice")
    return WitnessPolicy(tuple(witnesses), len(witnesses) if quorum is None else quorum)
