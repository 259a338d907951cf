"""File formats an auditor downloads and verifies offline: the receipt (a C2SP tlog-proof carrying its
entry), the consistency bundle, and the full export; and the checks that verify the first two (R24, R26;
the full export's audit is services.audit.ledger.full_audit).
Standard library and `cryptography` only: nothing here may trust, or import, the service."""

from __future__ import annotations

import base64
import json
import re
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from services.audit.ledger import books
from services.audit.ledger.checkpoint import (
    Checkpoint,
    CheckpointError,
    NoteError,
    NoteVerifier,
    open_checkpoint,
)
from services.audit.ledger.commitments import ENTRY_FORMAT, CommitmentError, commitment, entry_format, open_entry
from services.audit.ledger.decoding import b64decode
from services.audit.ledger.merkle import (
    EMPTY_ROOT,
    HASH_SIZE,
    ProofError,
    leaf_hash,
    verify_consistency,
    verify_inclusion,
)

__all__ = [
    "CONSISTENCY_FORMAT",
    "EXPORT_FORMAT",
    "EXPORT_FORMAT_1",
    "RECEIPT_EXTRA_FORMAT",
    "RECEIPT_EXTRA_FORMAT_2",
    "TLOG_PROOF_HEADER",
    "BundleError",
    "Keys",
    "Receipt",
    "VerifiedReceipt",
    "export_header",
    "export_line",
    "format_consistency",
    "format_receipt",
    "open_note",
    "parse_receipt",
    "read_opened",
    "receipt_extra",
    "unb64",
    "verify_consistency_bundle",
    "verify_receipt",
]

TLOG_PROOF_HEADER = "c2sp.org/tlog-proof@v1"
CONSISTENCY_FORMAT = "beilei-ledger-consistency/1"
EXPORT_FORMAT = "beilei-ledger-export/2"  # what export_header writes: entries beside their lines
EXPORT_FORMAT_1 = "beilei-ledger-export/1"  # exports written before, every entry in base64; still audited
RECEIPT_EXTRA_FORMAT = "beilei-ledger-receipt-extra/3"  # what receipt_extra writes
RECEIPT_EXTRA_FORMAT_2 = "beilei-ledger-receipt-extra/2"  # what receipts carried before; still verified
_EXTRA_3 = b"BLR3"
# The preset DEFLATE dictionary of receipt extra format 3: sealed entries of every fee record type with
# their openings. Fixed forever for format 3 (a receipt cannot be read with another dictionary).
_DICTIONARY = (Path(__file__).parent / "receipt-dictionary-3.txt").read_bytes()
_MAX_EXTRA = 1 << 20
_DECIMAL = re.compile(r"(?:0|[1-9][0-9]*)\Z")

Keys = Iterable[str | NoteVerifier]


class BundleError(ValueError):
    """A receipt, bundle or export is malformed or does not verify; str() says exactly why."""


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def unb64(text: object, what: str) -> bytes:
    if not isinstance(text, str):
        raise BundleError(f"{what} must be a base64 string")
    try:
        return b64decode(text)
    except ValueError as exc:  # binascii.Error, or a character outside ASCII
        raise BundleError(f"{what} is not valid base64") from exc


def _hashes(values: object, what: str) -> list[bytes]:
    if not isinstance(values, list):
        raise BundleError(f"{what} must be a list of base64 hashes")
    out = [unb64(v, f"{what}[{i}]") for i, v in enumerate(values)]
    for i, h in enumerate(out):
        if len(h) != HASH_SIZE:
            raise BundleError(f"{what}[{i}] is {len(h)} bytes, not a SHA-256 hash")
    return out


def open_note(note: object, keys: Keys, origin: str | None, what: str) -> Checkpoint:
    if not isinstance(note, str):
        raise BundleError(f"{what} must be a signed note (text)")
    try:
        return open_checkpoint(note, list(keys), origin)
    except (NoteError, CheckpointError) as exc:
        raise BundleError(f"{what}: {exc}") from exc


# --------------------------------------------------------------------------- receipts


@dataclass(frozen=True)
class Receipt:
    """A C2SP tlog-proof: entry index, inclusion proof and signed checkpoint; `extra` is the entry."""

    index: int
    proof: tuple[bytes, ...]
    checkpoint: str
    extra: bytes | None = None


@dataclass(frozen=True)
class VerifiedReceipt:
    index: int
    entry: bytes
    checkpoint: Checkpoint
    opened: dict[str, Any] | None = None
    """A format-2 entry opened with the receipt's salt: the event as published, its personal fields checked
    against their commitments; None when the receipt carries no opening."""


def receipt_extra(entry: bytes, opening: dict[str, Any] | None) -> bytes:
    """The receipt's extra data (application-defined in C2SP tlog-proof): the entry itself, or for the
    family of a format-2 entry, receipt extra format 3: `BLR3` and a raw DEFLATE stream, with the preset
    dictionary receipt-dictionary-3.txt, of the entry with the commitments it opens left empty, a newline,
    and the opening (salt and values) as compact JSON. The verifier fills each commitment in again from
    the opening, so a changed value changes the entry and fails its inclusion proof. A family's receipt
    is about 1.6 KB at a million entries (issue 17 part 5)."""
    if opening is None:
        return entry
    document = _blank_commitments(entry, opening.get("values", {})) + b"\n" + json.dumps(
        opening, ensure_ascii=False, separators=(",", ":")).encode()
    deflate = zlib.compressobj(9, zlib.DEFLATED, -15, 9, zlib.Z_DEFAULT_STRATEGY, _DICTIONARY)
    return _EXTRA_3 + deflate.compress(document) + deflate.flush()


def _commitment_keys(entry: bytes, names: Iterable[str]) -> tuple[int, dict[str, bytes]]:
    """Where the entry's own commitments object starts (it follows the payload, so it is the last one in
    the bytes), and each name as its key is written there."""
    return entry.rfind(b',"commitments":{'), {name: json.dumps(name, ensure_ascii=False).encode() + b':"'
                                              for name in names}


def _blank_commitments(entry: bytes, values: dict[str, Any]) -> bytes:
    start, keys = _commitment_keys(entry, values)
    if start < 0:
        return entry
    head, tail = entry[:start], entry[start:]
    for key in keys.values():
        at = tail.find(key)
        if at >= 0:
            value_start = at + len(key)
            tail = tail[:value_start] + tail[tail.index(b'"', value_start):]
    return head + tail


def _fill_commitments(blanked: bytes, opening: dict[str, Any]) -> bytes:
    """The entry receipt_extra blanked, with every commitment the opening opens computed again."""
    values = opening.get("values")
    if not isinstance(values, dict):
        raise BundleError("the receipt's opening has no values")
    try:
        salt = b64decode(str(opening.get("salt")))
    except ValueError as exc:
        raise BundleError("the receipt's opening has no base64 salt") from exc
    start, keys = _commitment_keys(blanked, values)
    if start < 0:
        raise BundleError("the receipt's entry has no commitments to open")
    head, tail = blanked[:start], blanked[start:]
    for name, key in keys.items():
        at = tail.find(key + b'"')
        if at < 0:
            raise BundleError(f"the receipt's opening names {name}, which its entry does not commit to")
        value_start = at + len(key)
        tail = tail[:value_start] + _b64(commitment(salt, name, values[name])).encode() + tail[value_start:]
    return head + tail


def _unwrap_extra(data: bytes) -> tuple[bytes, dict[str, Any] | None]:
    """(entry, opening) from a receipt's extra data: receipt extra format 3 (receipt_extra), format 2 (the
    JSON document `{"format": "beilei-ledger-receipt-extra/2", "entry": base64, "opening": {...}}` receipts
    carried before), or the entry itself."""
    if data.startswith(_EXTRA_3):
        inflate = zlib.decompressobj(-15, zdict=_DICTIONARY)
        try:
            document = inflate.decompress(data[len(_EXTRA_3):], _MAX_EXTRA)
        except zlib.error as exc:
            raise BundleError(f"the receipt's extra data does not inflate: {exc}") from exc
        if inflate.unconsumed_tail or not inflate.eof:
            raise BundleError("the receipt's extra data is cut short or larger than an entry can be")
        blanked, newline, opened = document.partition(b"\n")
        try:
            opening = json.loads(opened) if newline else None
        except (UnicodeDecodeError, ValueError) as exc:
            raise BundleError(f"the receipt's opening is not JSON: {exc}") from exc
        if not isinstance(opening, dict):
            raise BundleError("the receipt's extra data has no opening")
        return _fill_commitments(blanked, opening), opening
    if not data.startswith(b'{"format":'):
        return data, None
    try:
        wrapped = json.loads(data)
    except (UnicodeDecodeError, ValueError) as exc:
        raise BundleError(f"the receipt's extra data is not JSON: {exc}") from exc
    if not isinstance(wrapped, dict) or wrapped.get("format") != RECEIPT_EXTRA_FORMAT_2:
        raise BundleError(f"the receipt's extra data is not {RECEIPT_EXTRA_FORMAT_2}")
    opening = wrapped.get("opening")
    if not isinstance(opening, dict):
        raise BundleError("the receipt's extra data has no opening")
    return unb64(wrapped.get("entry"), "the receipt's entry"), opening


def format_receipt(receipt: Receipt) -> str:
    """The receipt as a `.tlog-proof` file (c2sp.org/tlog-proof@v1). The entry travels as the
    optional extra line: unauthenticated by itself, it is proven by hashing it into the proof."""
    lines = [TLOG_PROOF_HEADER]
    if receipt.extra is not None:
        lines.append(f"extra {_b64(receipt.extra)}")
    lines.append(f"index {receipt.index}")
    lines.extend(_b64(h) for h in receipt.proof)
    return "\n".join(lines) + "\n\n" + receipt.checkpoint


def parse_receipt(text: str) -> Receipt:
    """Parse a `.tlog-proof` file strictly; BundleError says what is wrong."""
    if not isinstance(text, str):
        raise BundleError("a receipt is text")
    head, sep, checkpoint = text.partition("\n\n")
    if not sep or not checkpoint:
        raise BundleError("receipt has no blank line followed by a checkpoint")
    lines = head.split("\n")
    if lines[0] != TLOG_PROOF_HEADER:
        raise BundleError(f"receipt does not start with {TLOG_PROOF_HEADER}")
    pos = 1
    extra = None
    if pos < len(lines) and lines[pos].startswith("extra "):
        extra = unb64(lines[pos][len("extra "):], "extra data")
        pos += 1
    if pos >= len(lines) or not lines[pos].startswith("index "):
        raise BundleError("receipt has no index line")
    number = lines[pos][len("index "):]
    if not _DECIMAL.match(number):
        raise BundleError(f"index {number!r} is not a decimal number without leading zeros")
    proof = []
    for i, line in enumerate(lines[pos + 1:]):
        if not line:
            raise BundleError("empty line inside the inclusion proof")
        h = unb64(line, f"proof line {i + 1}")
        if len(h) != HASH_SIZE:
            raise BundleError(f"proof line {i + 1} is {len(h)} bytes, not a SHA-256 hash")
        proof.append(h)
    return Receipt(int(number), tuple(proof), checkpoint, extra)


def verify_receipt(text: str, keys: Keys, *, origin: str | None = None, entry: bytes | None = None) -> VerifiedReceipt:
    """Check that the receipt's entry is at its index in a checkpoint signed by one of `keys`.

    The entry is the receipt's extra data, or `entry` when the auditor holds the bytes separately. A
    family's receipt of a format-2 entry also opens its commitments; they must open, or it fails.
    """
    receipt = parse_receipt(text)
    data = entry if entry is not None else receipt.extra
    if data is None:
        raise BundleError("the receipt carries no entry and none was given")
    data, opening = _unwrap_extra(data)
    checkpoint = open_note(receipt.checkpoint, keys, origin, "receipt checkpoint")
    try:
        verify_inclusion(leaf_hash(data), receipt.index, checkpoint.size, list(receipt.proof), checkpoint.root_hash)
    except ProofError as exc:
        raise BundleError(f"inclusion proof does not verify: {exc.reason}") from exc
    try:
        opened = open_entry(data, opening) if opening is not None else None
    except CommitmentError as exc:
        raise BundleError(f"the receipt's opening does not open its entry: {exc}") from exc
    return VerifiedReceipt(receipt.index, data, checkpoint, opened)


# --------------------------------------------------------------------------- consistency


def format_consistency(old_checkpoint: str | None, new_checkpoint: str, proof: Sequence[bytes]) -> dict[str, Any]:
    """A consistency bundle; from the empty tree (size 0) it has no old checkpoint and an empty proof."""
    return {
        "format": CONSISTENCY_FORMAT,
        "old_checkpoint": old_checkpoint,
        "new_checkpoint": new_checkpoint,
        "proof": [_b64(h) for h in proof],
    }


def verify_consistency_bundle(
    bundle: dict[str, Any], keys: Keys, *, old_checkpoint: str | None = None, origin: str | None = None
) -> tuple[Checkpoint, Checkpoint]:
    """Check that the old checkpoint's tree is a prefix of the new one's, both signed by `keys`.

    `old_checkpoint` is the auditor's own saved copy; it replaces the bundle's. An old tree of size 0
    is a prefix of anything and needs an empty proof (the C2SP tlog-witness convention; RFC 9162
    proofs start at size 1).
    """
    if not isinstance(bundle, dict) or bundle.get("format") != CONSISTENCY_FORMAT:
        raise BundleError(f"not a {CONSISTENCY_FORMAT} bundle")
    keys = list(keys)
    new = open_note(bundle.get("new_checkpoint"), keys, origin, "new checkpoint")
    old_note = old_checkpoint or bundle.get("old_checkpoint")
    if old_note is None and "old_checkpoint" in bundle and bundle.get("proof") == []:
        return Checkpoint(new.origin, 0, EMPTY_ROOT), new  # from the empty tree: nothing to prove
    old = open_note(old_note, keys, origin, "old checkpoint")
    if old.origin != new.origin:
        raise BundleError(f"the checkpoints are of two logs: {old.origin!r} and {new.origin!r}")
    proof = _hashes(bundle.get("proof"), "proof")
    if old.size == new.size and old.root_hash != new.root_hash:
        raise BundleError(f"split view: the log signed two roots for tree size {old.size}: "
                          f"{old.root_hash.hex()} and {new.root_hash.hex()}")
    if old.size == 0:
        if proof:
            raise BundleError("a proof from the empty tree must be empty")
        return old, new
    try:
        verify_consistency(old.size, new.size, proof, old.root_hash, new.root_hash)
    except ProofError as exc:
        raise BundleError(f"consistency proof does not verify: {exc.reason}") from exc
    return old, new


# --------------------------------------------------------------------------- export


def export_header(checkpoint_note: str, tree_size: int, export_format: str = EXPORT_FORMAT) -> str:
    """First line of an export: the signed checkpoint it was taken at."""
    return json.dumps({"format": export_format, "tree_size": tree_size, "checkpoint": checkpoint_note},
                      ensure_ascii=False)


_LINE = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))  # one encoder for every export line


def export_line(index: int, body: bytes, stored_leaf_hash: bytes, columns: dict[str, Any],
                opening: dict[str, Any] | None = None, *, beside: bool = False) -> str:
    """One entry of an export: its bytes, the leaf hash the database stored, the database's index
    columns (school, student, amount...), so the verifier can check that they all agree with the bytes,
    and for a format-2 entry the opening (salt and values) of its commitments.

    The bytes are base64 in the line's `entry` (export format 1, and format 2 for an entry that is not
    UTF-8 or holds a line break), or with `beside` (export format 2) the line's JSON is followed by a tab
    and the entry's bytes as they are: no base64 to undo and a sixth less to read."""
    text = None
    if beside:
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            text = None
        if text is not None and text.splitlines() != [text]:  # a line break, of any kind a reader may see
            text = None
    line: dict[str, Any] = {"index": index} if text is not None else {"index": index, "entry": _b64(body)}
    line["leaf_hash"] = _b64(stored_leaf_hash)
    line.update(columns)
    if opening is not None:
        line["opening"] = opening
    encoded = _LINE.encode(line)
    return encoded if text is None else f"{encoded}\t{text}"


def read_opened(body: bytes, opening: object) -> books.Entry:
    """What an entry says, a format-2 entry after opening its commitments with `opening`."""
    if entry_format(body) != ENTRY_FORMAT:
        return books.read_entry(body)
    if not isinstance(opening, dict):
        raise BundleError("a format-2 entry needs its opening (salt and values) to be audited")
    try:
        return books.describe(open_entry(body, opening))
    except CommitmentError as exc:
        raise BundleError(f"its commitments do not open: {exc}") from exc
