"""C2SP tlog-checkpoint bodies and C2SP signed notes with Ed25519 signatures (type 0x01)."""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

__all__ = [
    "ALG_ED25519",
    "MAX_SIGNATURES",
    "Checkpoint",
    "CheckpointError",
    "NoteError",
    "NoteSigner",
    "NoteVerificationError",
    "NoteVerifier",
    "format_checkpoint",
    "generate_signer",
    "key_id",
    "load_signer",
    "load_verifier",
    "open_checkpoint",
    "open_note",
    "parse_checkpoint",
    "sign_note",
    "vkey_from_signer",
]

ALG_ED25519 = 0x01
"""Signature type byte of plain Ed25519 note signatures (C2SP signed-note)."""

MAX_SIGNATURES = 100
"""Most signature lines accepted in one note (the spec requires accepting at least 16)."""

MAX_TREE_SIZE = (1 << 64) - 1

_EM_DASH = "\u2014"
_SIG_PREFIX = _EM_DASH + " "
_PRIVATE_KEY_PREFIX = "PRIVATE+KEY+"
_HEX_KEY_ID = re.compile(r"[0-9a-f]{8}\Z")
_DECIMAL = re.compile(r"(?:0|[1-9][0-9]*)\Z")
_HASH_SIZE = 32
_SEED_SIZE = 32
_ED25519_SIG_SIZE = 64


class NoteError(ValueError):
    """A note, key string or signature line is malformed."""


class NoteVerificationError(NoteError):
    """A note carries a bad signature from a known key, or no valid signature from any known key."""


class CheckpointError(ValueError):
    """A checkpoint body is malformed."""


# --------------------------------------------------------------------------- text rules


def _has_control(text: str) -> bool:
    return any(ch < " " and ch != "\n" for ch in text)


def _check_utf8(text: str, what: str, error: type[ValueError]) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise error(f"{what} is not valid UTF-8") from exc


def _check_key_name(name: object) -> str:
    if not isinstance(name, str) or not name:
        raise NoteError("key name must be a non-empty string")
    if "+" in name or any(ch.isspace() for ch in name) or _has_control(name):
        raise NoteError(f"key name {name!r} contains a space, a plus sign or a control character")
    _check_utf8(name, "key name", NoteError)
    return name


def _b64decode(value: str, what: str, error: type[ValueError]) -> bytes:
    try:
        raw = base64.b64decode(value.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError) as exc:
        raise error(f"{what} is not valid base64") from exc
    if base64.b64encode(raw).decode("ascii") != value:
        raise error(f"{what} is not canonical base64")
    return raw


# --------------------------------------------------------------------------- checkpoints


@dataclass(frozen=True)
class Checkpoint:
    """The body of a C2SP tlog-checkpoint: origin, tree size, RFC 9162 root hash, extension lines."""

    origin: str
    size: int
    root_hash: bytes
    extensions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not isinstance(self.origin, str) or not self.origin:
            raise CheckpointError("origin must be a non-empty string")
        if "\n" in self.origin or _has_control(self.origin):
            raise CheckpointError("origin must be one line without control characters")
        _check_utf8(self.origin, "origin", CheckpointError)
        if isinstance(self.size, bool) or not isinstance(self.size, int):
            raise CheckpointError("size must be an int")
        if not 0 <= self.size <= MAX_TREE_SIZE:
            raise CheckpointError("size must be in [0, 2**64)")
        if not isinstance(self.root_hash, bytes) or len(self.root_hash) != _HASH_SIZE:
            raise CheckpointError(f"root_hash must be {_HASH_SIZE} bytes")
        extensions = tuple(self.extensions)
        for line in extensions:
            if not isinstance(line, str) or not line:
                raise CheckpointError("extension lines must be non-empty strings")
            if "\n" in line or _has_control(line):
                raise CheckpointError("extension lines must be single lines without control characters")
            _check_utf8(line, "extension line", CheckpointError)
        object.__setattr__(self, "extensions", extensions)


def format_checkpoint(checkpoint: Checkpoint) -> str:
    """Return the checkpoint note text: origin, size, base64 root, extensions, one per line."""
    lines = [
        checkpoint.origin,
        str(checkpoint.size),
        base64.b64encode(checkpoint.root_hash).decode("ascii"),
        *checkpoint.extensions,
    ]
    return "\n".join(lines) + "\n"


def parse_checkpoint(text: str) -> Checkpoint:
    """Parse checkpoint note text (not a signed note: open it with `open_note` first).

    Strict: the text must end in a newline, every line must be non-empty, the size must be
    ASCII decimal without leading zeros, and the root must be canonical base64 of 32 bytes.
    """
    if not isinstance(text, str):
        raise CheckpointError("checkpoint text must be a str")
    if not text.endswith("\n"):
        raise CheckpointError("checkpoint text must end with a newline")
    if _has_control(text):
        raise CheckpointError("checkpoint text contains a control character")
    lines = text[:-1].split("\n")
    if len(lines) < 3:
        raise CheckpointError("checkpoint needs an origin, a size and a root hash line")
    if any(not line for line in lines):
        raise CheckpointError("checkpoint lines must be non-empty")
    origin, size_line, root_line, *extensions = lines
    if not _DECIMAL.match(size_line):
        raise CheckpointError(f"tree size {size_line!r} is not a decimal number without leading zeros")
    size = int(size_line)
    if size > MAX_TREE_SIZE:
        raise CheckpointError("tree size does not fit in 64 bits")
    root_hash = _b64decode(root_line, "root hash", CheckpointError)
    if len(root_hash) != _HASH_SIZE:
        raise CheckpointError(f"root hash is {len(root_hash)} bytes, want {_HASH_SIZE}")
    return Checkpoint(origin, size, root_hash, tuple(extensions))


# --------------------------------------------------------------------------- keys


def key_id(name: str, public_key: bytes) -> bytes:
    """Return the 4-byte key ID of an Ed25519 key: SHA-256(name || 0x0A || 0x01 || key)[:4]."""
    name = _check_key_name(name)
    if not isinstance(public_key, bytes) or len(public_key) != 32:
        raise NoteError("an Ed25519 public key is 32 bytes")
    return hashlib.sha256(name.encode("utf-8") + b"\n" + bytes([ALG_ED25519]) + public_key).digest()[:4]


def _raw_public(public_key: Ed25519PublicKey) -> bytes:
    return public_key.public_bytes_raw()


@dataclass(frozen=True)
class NoteVerifier:
    """A trusted Ed25519 note verifier key: name, key ID and public key."""

    name: str
    key_id: bytes
    public_key: Ed25519PublicKey

    @property
    def vkey(self) -> str:
        """The key in the verifier key format `<name>+<hex key id>+<base64(0x01 || key)>`."""
        encoded = base64.b64encode(bytes([ALG_ED25519]) + _raw_public(self.public_key)).decode("ascii")
        return f"{self.name}+{self.key_id.hex()}+{encoded}"

    def verify(self, message: bytes, signature: bytes) -> bool:
        """Return whether `signature` is this key's Ed25519 signature of `message`."""
        if len(signature) != _ED25519_SIG_SIZE:
            return False
        try:
            self.public_key.verify(signature, message)
        except InvalidSignature:
            return False
        return True


@dataclass(frozen=True)
class NoteSigner:
    """An Ed25519 note signing key with its name and key ID."""

    name: str
    key_id: bytes
    private_key: Ed25519PrivateKey

    @property
    def verifier(self) -> NoteVerifier:
        """The matching verifier."""
        return NoteVerifier(self.name, self.key_id, self.private_key.public_key())

    @property
    def vkey(self) -> str:
        """The matching verifier key string."""
        return self.verifier.vkey

    def sign_note(self, text: str) -> str:
        """Return `text` signed with this key (see `sign_note`)."""
        return sign_note(text, self.name, self.private_key)


def _encode_skey(name: str, private_key: Ed25519PrivateKey) -> str:
    seed = private_key.private_bytes_raw()
    kid = key_id(name, _raw_public(private_key.public_key()))
    encoded = base64.b64encode(bytes([ALG_ED25519]) + seed).decode("ascii")
    return f"{_PRIVATE_KEY_PREFIX}{name}+{kid.hex()}+{encoded}"


def generate_signer(name: str) -> tuple[str, str]:
    """Generate a new Ed25519 key; return (signer key string, verifier key string).

    The signer key string is `PRIVATE+KEY+<name>+<hex key id>+<base64(0x01 || 32-byte seed)>`,
    the format of golang.org/x/mod/sumdb/note used by C2SP tooling. Keep it secret.
    """
    name = _check_key_name(name)
    private_key = Ed25519PrivateKey.generate()
    signer = NoteSigner(name, key_id(name, _raw_public(private_key.public_key())), private_key)
    return _encode_skey(name, private_key), signer.vkey


def load_signer(skey: str) -> NoteSigner:
    """Parse a `PRIVATE+KEY+<name>+<hex key id>+<base64(0x01 || seed)>` signer key string."""
    if not isinstance(skey, str):
        raise NoteError("signer key must be a str")
    skey = skey.strip()
    if not skey.startswith(_PRIVATE_KEY_PREFIX):
        raise NoteError("signer key must start with PRIVATE+KEY+")
    parts = skey[len(_PRIVATE_KEY_PREFIX) :].split("+", 2)
    if len(parts) != 3:
        raise NoteError("signer key must be PRIVATE+KEY+<name>+<key id>+<key>")
    name, hex_id, encoded = parts
    name = _check_key_name(name)
    if not _HEX_KEY_ID.match(hex_id):
        raise NoteError("signer key ID must be 8 lowercase hex digits")
    raw = _b64decode(encoded, "signer key", NoteError)
    if len(raw) != 1 + _SEED_SIZE or raw[0] != ALG_ED25519:
        raise NoteError("signer key is not an Ed25519 (type 0x01) seed")
    private_key = Ed25519PrivateKey.from_private_bytes(raw[1:])
    kid = key_id(name, _raw_public(private_key.public_key()))
    if kid.hex() != hex_id:
        raise NoteError("signer key ID does not match its name and key")
    return NoteSigner(name, kid, private_key)


def load_verifier(vkey: str | NoteVerifier) -> NoteVerifier:
    """Parse a `<name>+<hex key id>+<base64(0x01 || 32-byte public key)>` verifier key string."""
    if isinstance(vkey, NoteVerifier):
        return vkey
    if not isinstance(vkey, str):
        raise NoteError("verifier key must be a str")
    parts = vkey.strip().split("+", 2)
    if len(parts) != 3:
        raise NoteError("verifier key must be <name>+<key id>+<key>")
    name, hex_id, encoded = parts
    name = _check_key_name(name)
    if not _HEX_KEY_ID.match(hex_id):
        raise NoteError("verifier key ID must be 8 lowercase hex digits")
    raw = _b64decode(encoded, "verifier key", NoteError)
    if len(raw) != 1 + 32 or raw[0] != ALG_ED25519:
        raise NoteError("verifier key is not an Ed25519 (type 0x01) public key")
    kid = key_id(name, raw[1:])
    if kid.hex() != hex_id:
        raise NoteError("verifier key ID does not match its name and key")
    return NoteVerifier(name, kid, Ed25519PublicKey.from_public_bytes(raw[1:]))


def vkey_from_signer(signer: NoteSigner | str) -> str:
    """Return the verifier key string matching a signer (object or signer key string)."""
    if isinstance(signer, str):
        signer = load_signer(signer)
    return signer.vkey


# --------------------------------------------------------------------------- signed notes


def _check_note_text(text: object) -> str:
    if not isinstance(text, str):
        raise NoteError("note text must be a str")
    if not text.endswith("\n"):
        raise NoteError("note text must end with a newline")
    if _has_control(text):
        raise NoteError("note text contains a control character")
    _check_utf8(text, "note text", NoteError)
    return text


def sign_note(text: str, name: str, private_key: Ed25519PrivateKey) -> str:
    """Return the signed note: `text`, a blank line, and the line `— <name> <base64(key id || sig)>`.

    The Ed25519 signature covers the UTF-8 note text including its final newline.
    """
    text = _check_note_text(text)
    name = _check_key_name(name)
    if not isinstance(private_key, Ed25519PrivateKey):
        raise NoteError("private_key must be an Ed25519PrivateKey")
    kid = key_id(name, _raw_public(private_key.public_key()))
    signature = private_key.sign(text.encode("utf-8"))
    encoded = base64.b64encode(kid + signature).decode("ascii")
    return f"{text}\n{_SIG_PREFIX}{name} {encoded}\n"


def _verifier_table(verifier_keys: Iterable[str | NoteVerifier]) -> dict[tuple[str, bytes], NoteVerifier]:
    if isinstance(verifier_keys, (str, NoteVerifier)):
        verifier_keys = [verifier_keys]
    table: dict[tuple[str, bytes], NoteVerifier] = {}
    for key in verifier_keys:
        verifier = load_verifier(key)
        slot = (verifier.name, verifier.key_id)
        known = table.get(slot)
        if known is not None and _raw_public(known.public_key) != _raw_public(verifier.public_key):
            raise NoteError(f"two different verifier keys share name {verifier.name!r} and key ID")
        table[slot] = verifier
    return table


def _open(signed_note: str | bytes, verifier_keys: Iterable[str | NoteVerifier]) -> tuple[str, list[str]]:
    table = _verifier_table(verifier_keys)
    if isinstance(signed_note, (bytes, bytearray)):
        try:
            signed_note = bytes(signed_note).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise NoteError("signed note is not valid UTF-8") from exc
    if not isinstance(signed_note, str):
        raise NoteError("signed note must be str or bytes")
    _check_utf8(signed_note, "signed note", NoteError)
    if not signed_note.endswith("\n"):
        raise NoteError("signed note must end with a newline")
    if _has_control(signed_note):
        raise NoteError("signed note contains a control character")
    split = signed_note.rfind("\n\n")
    if split < 0:
        raise NoteError("signed note has no blank line before its signatures")
    text = signed_note[: split + 1]
    block = signed_note[split + 2 :]
    if not block:
        raise NoteError("signed note has no signature lines")
    lines = block[:-1].split("\n")
    if len(lines) > MAX_SIGNATURES:
        raise NoteError(f"signed note has more than {MAX_SIGNATURES} signatures")

    message = text.encode("utf-8")
    verified: list[str] = []
    for line in lines:
        if not line.startswith(_SIG_PREFIX):
            raise NoteError("signature line does not start with an em dash and a space")
        name, sep, encoded = line[len(_SIG_PREFIX) :].partition(" ")
        if not sep:
            raise NoteError("signature line has no signature after the key name")
        _check_key_name(name)
        raw = _b64decode(encoded, "signature", NoteError)
        if len(raw) < 5:
            raise NoteError("signature is shorter than a key ID and one byte")
        verifier = table.get((name, raw[:4]))
        if verifier is None:
            continue  # C2SP signed-note: signatures from unknown keys MUST be ignored.
        if not verifier.verify(message, raw[4:]):
            raise NoteVerificationError(f"invalid signature from known key {name!r}")
        if name not in verified:
            verified.append(name)
    if not verified:
        raise NoteVerificationError("no signature from a known key")
    return text, verified


def open_note(signed_note: str | bytes, verifier_keys: Iterable[str | NoteVerifier]) -> str:
    """Verify a signed note against trusted verifier keys and return its text.

    Signatures from unknown keys (name and key ID not both matching a trusted key) are ignored.
    Raises NoteVerificationError if a known key's signature is invalid or none verifies, and
    NoteError if the note is malformed.
    """
    return _open(signed_note, verifier_keys)[0]


def open_checkpoint(
    signed_note: str | bytes,
    verifier_keys: Iterable[str | NoteVerifier],
    origin: str | None = None,
) -> Checkpoint:
    """Verify a signed checkpoint note and parse it; optionally require a given origin."""
    checkpoint = parse_checkpoint(open_note(signed_note, verifier_keys))
    if origin is not None and checkpoint.origin != origin:
        raise CheckpointError(f"checkpoint origin {checkpoint.origin!r} is not {origin!r}")
    return checkpoint
