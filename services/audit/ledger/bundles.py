"""File formats an auditor downloads and verifies offline: the receipt (a C2SP tlog-proof carrying its
entry), the consistency bundle, and the full export; and the checks that verify each of them (R24, R26).
Standard library and `cryptography` only: nothing here may trust, or import, the service."""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from services.audit.ledger import books
from services.audit.ledger.checkpoint import (
    Checkpoint,
    CheckpointError,
    NoteError,
    NoteVerifier,
    open_checkpoint,
)
from services.audit.ledger.commitments import ENTRY_FORMAT, CommitmentError, entry_format, open_entry
from services.audit.ledger.merkle import (
    EMPTY_ROOT,
    HASH_SIZE,
    ProofError,
    leaf_hash,
    verify_consistency,
    verify_inclusion,
)
from services.audit.ledger.tree import Integrator

__all__ = [
    "CONSISTENCY_FORMAT",
    "EXPORT_FORMAT",
    "RECEIPT_EXTRA_FORMAT",
    "TLOG_PROOF_HEADER",
    "AuditReport",
    "BundleError",
    "Receipt",
    "VerifiedReceipt",
    "audit_export",
    "export_header",
    "export_line",
    "format_consistency",
    "format_receipt",
    "parse_receipt",
    "read_opened",
    "receipt_extra",
    "verify_consistency_bundle",
    "verify_receipt",
]

TLOG_PROOF_HEADER = "c2sp.org/tlog-proof@v1"
CONSISTENCY_FORMAT = "beilei-ledger-consistency/1"
EXPORT_FORMAT = "beilei-ledger-export/1"
RECEIPT_EXTRA_FORMAT = "beilei-ledger-receipt-extra/2"
_DECIMAL = re.compile(r"(?:0|[1-9][0-9]*)\Z")

Keys = Iterable[str | NoteVerifier]


class BundleError(ValueError):
    """A receipt, bundle or export is malformed or does not verify; str() says exactly why."""


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: object, what: str) -> bytes:
    if not isinstance(text, str):
        raise BundleError(f"{what} must be a base64 string")
    try:
        return base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError) as exc:
        raise BundleError(f"{what} is not valid base64") from exc


def _hashes(values: object, what: str) -> list[bytes]:
    if not isinstance(values, list):
        raise BundleError(f"{what} must be a list of base64 hashes")
    out = [_unb64(v, f"{what}[{i}]") for i, v in enumerate(values)]
    for i, h in enumerate(out):
        if len(h) != HASH_SIZE:
            raise BundleError(f"{what}[{i}] is {len(h)} bytes, not a SHA-256 hash")
    return out


def _open(note: object, keys: Keys, origin: str | None, what: str) -> Checkpoint:
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
    family of a format-2 entry a small JSON document with the entry and the salt and values that open
    its commitments."""
    if opening is None:
        return entry
    return json.dumps({"format": RECEIPT_EXTRA_FORMAT, "entry": _b64(entry), "opening": opening},
                      ensure_ascii=False, separators=(",", ":")).encode()


def _unwrap_extra(data: bytes) -> tuple[bytes, dict[str, Any] | None]:
    """(entry, opening) from a receipt's extra data (see receipt_extra)."""
    if not data.startswith(b'{"format":'):
        return data, None
    try:
        wrapped = json.loads(data)
    except (UnicodeDecodeError, ValueError) as exc:
        raise BundleError(f"the receipt's extra data is not JSON: {exc}") from exc
    if not isinstance(wrapped, dict) or wrapped.get("format") != RECEIPT_EXTRA_FORMAT:
        raise BundleError(f"the receipt's extra data is not {RECEIPT_EXTRA_FORMAT}")
    opening = wrapped.get("opening")
    if not isinstance(opening, dict):
        raise BundleError("the receipt's extra data has no opening")
    return _unb64(wrapped.get("entry"), "the receipt's entry"), opening


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
        extra = _unb64(lines[pos][len("extra "):], "extra data")
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
        h = _unb64(line, f"proof line {i + 1}")
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
    checkpoint = _open(receipt.checkpoint, keys, origin, "receipt checkpoint")
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
    new = _open(bundle.get("new_checkpoint"), keys, origin, "new checkpoint")
    old_note = old_checkpoint or bundle.get("old_checkpoint")
    if old_note is None and "old_checkpoint" in bundle and bundle.get("proof") == []:
        return Checkpoint(new.origin, 0, EMPTY_ROOT), new  # from the empty tree: nothing to prove
    old = _open(old_note, keys, origin, "old checkpoint")
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


def export_header(checkpoint_note: str, tree_size: int) -> str:
    """First line of an export: the signed checkpoint it was taken at."""
    return json.dumps({"format": EXPORT_FORMAT, "tree_size": tree_size, "checkpoint": checkpoint_note},
                      ensure_ascii=False)


def export_line(index: int, body: bytes, stored_leaf_hash: bytes, columns: dict[str, Any],
                opening: dict[str, Any] | None = None) -> str:
    """One entry of an export: its bytes, the leaf hash the database stored, the database's index
    columns (school, student, amount...), so the verifier can check that they all agree with the bytes,
    and for a format-2 entry the opening (salt and values) of its commitments."""
    line = {"index": index, "entry": _b64(body), "leaf_hash": _b64(stored_leaf_hash), **columns}
    if opening is not None:
        line["opening"] = opening
    return json.dumps(line, ensure_ascii=False, separators=(",", ":"))


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


# Index columns of an export line and how each is read from the entry's bytes.
_COLUMNS: dict[str, Callable[[books.Entry], Any]] = {
    "event_id": lambda e: e.event_id,
    "event_type": lambda e: e.event_type,
    "school_id": lambda e: e.school_id,
    "student_id": lambda e: e.student_id,
    "category": lambda e: e.category,
    "period": lambda e: e.period,
    "amount_fen": lambda e: e.amount_fen,
}


@dataclass
class AuditReport:
    """Outcome of a full audit. `failures` break verification (tampering, bad signatures); `findings`
    are about the books themselves (unbalanced, a disclosure that does not add up)."""

    origin: str = ""
    tree_size: int = 0
    root_hash: bytes = b""
    entries: int = 0
    failures: list[str] = field(default_factory=list)
    findings: list[str] = field(default_factory=list)
    prefix_checks: list[tuple[int, bool]] = field(default_factory=list)
    books: dict[str, books.SchoolBooks] = field(default_factory=dict)
    disclosures: list[dict[str, Any]] = field(default_factory=list)

    @property
    def verified(self) -> bool:
        return not self.failures


_MAX_LISTED = 20


def _fail(report: AuditReport, message: str) -> None:
    if len(report.failures) < _MAX_LISTED:
        report.failures.append(message)
    elif len(report.failures) == _MAX_LISTED:
        report.failures.append("... more failures not listed")


def audit_export(
    open_lines: Callable[[], Iterator[str]],
    keys: Keys,
    *,
    saved_checkpoints: Sequence[str] = (),
    origin: str | None = None,
) -> AuditReport:
    """Audit a full export: re-hash every entry, rebuild the root and compare it with the export's
    signed checkpoint and with every checkpoint the auditor saved earlier (a rewritten history cannot
    match those), check the database's stored hashes and index columns against the bytes, recompute
    every school's books (R25) and every disclosure's totals (R21).

    `open_lines` opens the export afresh (it is read twice when disclosures must be recomputed).
    """
    keys = list(keys)
    report = AuditReport()
    lines = open_lines()
    try:
        header = json.loads(next(lines))
    except (StopIteration, ValueError) as exc:
        raise BundleError("export has no header line") from exc
    if not isinstance(header, dict) or header.get("format") != EXPORT_FORMAT:
        raise BundleError(f"not a {EXPORT_FORMAT} file")
    checkpoint = _open(header.get("checkpoint"), keys, origin, "export checkpoint")
    report.origin, report.tree_size, report.root_hash = checkpoint.origin, checkpoint.size, checkpoint.root_hash

    saved: dict[int, list[Checkpoint]] = {}
    for i, note in enumerate(saved_checkpoints):
        cp = _open(note, keys, checkpoint.origin, f"saved checkpoint {i + 1}")
        saved.setdefault(cp.size, []).append(cp)
    for size in sorted(saved):
        roots = {cp.root_hash for cp in saved[size]} | ({checkpoint.root_hash} if size == checkpoint.size else set())
        if len(roots) > 1:
            _fail(report, f"split view: the log signed {len(roots)} different roots for tree size {size} "
                          f"({', '.join(sorted(r.hex() for r in roots))}); an honest log signs one")
        if size > checkpoint.size:
            _fail(report, f"a saved checkpoint has {size} entries, more than the export's {checkpoint.size}: "
                          "the ledger was truncated or rolled back")
            report.prefix_checks.extend((size, False) for _ in saved[size])
    report.prefix_checks.extend((0, True) for _ in saved.get(0, []))

    tree = Integrator()
    ledger = books.Books()
    seen: set[bytes] = set()
    disclosures: list[tuple[int, books.Entry]] = []
    for n, line in enumerate(lines):
        try:
            item = json.loads(line)
            index, body = item["index"], _unb64(item["entry"], "entry")
            stored = _unb64(item["leaf_hash"], "leaf_hash")
        except (ValueError, KeyError, TypeError, BundleError) as exc:
            _fail(report, f"line {n + 2}: unreadable export line ({exc})")
            continue
        if index != n:
            _fail(report, f"line {n + 2}: entry index {index} where {n} was expected (an entry was removed, "
                          "inserted or moved)")
        h = leaf_hash(body)
        if stored != h:
            _fail(report, f"entry {n}: the stored leaf hash does not match the entry's bytes")
        tree.append(h)
        report.entries += 1
        if tree.size in saved:
            prefix_root = tree.root()
            for cp in saved[tree.size]:
                same = prefix_root == cp.root_hash
                report.prefix_checks.append((tree.size, same))
                if not same:
                    _fail(report, f"the first {tree.size} entries do not hash to the root of the saved checkpoint "
                                  f"of size {tree.size} ({cp.root_hash.hex()}; they hash to {prefix_root.hex()}): "
                                  "history was rewritten")
        try:
            entry = read_opened(body, item.get("opening"))
        except books.EntryError as exc:
            _fail(report, f"entry {n}: not a fee record ({exc})")
            continue
        except BundleError as exc:
            _fail(report, f"entry {n}: {exc}")
            continue
        uid = entry.event_id.encode()
        if uid in seen:
            _fail(report, f"entry {n}: event {entry.event_id} is recorded twice")
        seen.add(uid)
        for name, read in _COLUMNS.items():
            if name in item and item[name] != read(entry):
                _fail(report, f"entry {n}: stored column {name}={item[name]!r} but the entry says {read(entry)!r}")
        for problem in books.entry_problems(entry):
            report.findings.append(f"entry {n} ({entry.event_type} {entry.event_id}, school {entry.school_id}): "
                                   f"{problem}")
        ledger.add(entry)
        if entry.event_type == "DisclosurePublished":
            disclosures.append((n, _with_ledger_size(entry, body)))
    if report.entries != checkpoint.size:
        _fail(report, f"the export holds {report.entries} entries but its checkpoint says {checkpoint.size}")
    elif tree.root() != checkpoint.root_hash:
        _fail(report, "the entries do not hash to the root of the export's signed checkpoint")
    report.books = ledger.schools
    for school in ledger.unbalanced():
        b = ledger.schools[school]
        report.findings.append(f"school {school}: books do not balance (debits {b.debit_fen}, credits "
                               f"{b.credit_fen}, bank {b.bank_fen}, cash stated by its events {b.cash_fen})")
    if disclosures:
        _recompute_disclosures(open_lines, disclosures, report)
    return report


def _with_ledger_size(entry: books.Entry, body: bytes) -> books.Entry:
    """A format-2 disclosure's size as the ledger noted it (commitments.seal) when its publisher gave none."""
    if entry.payload.get("ledger_tree_size") is not None or entry_format(body) != ENTRY_FORMAT:
        return entry
    noted = json.loads(body).get("ledger_tree_size")
    return replace(entry, payload={**entry.payload, "ledger_tree_size": noted})


def _recompute_disclosures(
    open_lines: Callable[[], Iterator[str]], disclosures: list[tuple[int, books.Entry]], report: AuditReport
) -> None:
    """Second pass: each disclosure's figures against the entries of the ledger prefix it was computed
    at (its ledger_tree_size, else everything before it)."""
    wanted = []
    for index, d in disclosures:
        p = d.payload
        size = p.get("ledger_tree_size")
        size = size if isinstance(size, int) and not isinstance(size, bool) and 0 <= size <= index else index
        try:
            start, end = books.local_day(p.get("period_start"), "period_start"), books.local_day(p.get("period_end"), "period_end")
        except books.EntryError as exc:
            report.findings.append(f"entry {index}: disclosure has no readable period ({exc})")
            continue
        wanted.append((size, index, d, start, end))
    wanted.sort(key=lambda w: w[0])
    totals: dict[int, dict[str, int]] = {w[1]: {k: 0 for k in books.DISCLOSED_FIELDS} for w in wanted}
    open_by_school: dict[str, list[tuple[int, int, books.Entry, Any, Any]]] = {}
    for w in wanted:
        open_by_school.setdefault(w[2].school_id, []).append(w)
    lines = open_lines()
    next(lines)
    cursor = 0
    for n, line in enumerate(lines):
        while cursor < len(wanted) and wanted[cursor][0] <= n:
            _compare(wanted[cursor], totals, report)
            open_by_school[wanted[cursor][2].school_id].remove(wanted[cursor])
            cursor += 1
        if cursor == len(wanted):
            break
        try:
            entry = books.read_entry(_unb64(json.loads(line)["entry"], "entry"))
        except (ValueError, KeyError, TypeError, BundleError, books.EntryError):
            continue
        if not entry.amount_fen:
            continue
        for _size, index, _d, start, end in open_by_school.get(entry.school_id, ()):
            if start <= entry.day <= end:
                books.add_to_totals(totals[index], entry)
    for w in wanted[cursor:]:
        _compare(w, totals, report)


def _compare(want: tuple[int, int, books.Entry, Any, Any], totals: dict[int, dict[str, int]], report: AuditReport) -> None:
    size, index, d, start, end = want
    computed = totals[index]
    stated = {k: d.payload.get(k) for k in books.DISCLOSED_FIELDS}
    differences = {k: (stated[k], computed[k]) for k in books.DISCLOSED_FIELDS if stated[k] != computed[k]}
    report.disclosures.append({
        "index": index, "school_id": d.school_id, "disclosure_id": d.payload.get("disclosure_id"),
        "period_start": start.isoformat(), "period_end": end.isoformat(), "computed_at_size": size,
        "computed": computed, "differences": {k: {"stated": s, "computed": c} for k, (s, c) in differences.items()},
    })
    if differences:
        shown = ", ".join(f"{k} stated {s} computed {c}" for k, (s, c) in differences.items())
        report.findings.append(f"disclosure {d.payload.get('disclosure_id')} of school {d.school_id} "
                               f"({start}..{end}, entry {index}) does not match the ledger: {shown}")
