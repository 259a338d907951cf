"""The full audit of an export (R24-R26): re-hash every entry, rebuild the root and compare it with the
export's signed checkpoint and with every checkpoint the auditor saved earlier (a rewritten history cannot
match those), check the database's stored hashes and index columns against the bytes, recompute every
school's books (R25) and every disclosure's totals (R21).

One pass over the lines does all of it. A file is cut into stretches of whole lines that processes read
side by side (`audit_export_file`, one per core by default); each stretch is scanned by the same function
the single-process path uses (`_scan`), and the parent joins what the stretches say in ledger order, as
they come in: their leaf hashes into one tree (hashed subtree by subtree meanwhile), their books,
their disclosures and the amounts a disclosure sums. Export format 2 carries each entry's bytes beside its
line (bundles.export_line), format 1 in base64 inside it; both are read. Standard library and
`cryptography` only, like the rest of the ledger package (orjson when installed): nothing here trusts
the service.
"""

from __future__ import annotations

import gc
import json
import mmap
import os
from array import array
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import date
from hashlib import sha256
from operator import attrgetter, itemgetter
from typing import Any

from services.audit.ledger import books
from services.audit.ledger.bundles import (
    EXPORT_FORMAT,
    EXPORT_FORMAT_1,
    BundleError,
    Keys,
    open_note,
    read_opened,
    unb64,
)
from services.audit.ledger.checkpoint import Checkpoint
from services.audit.ledger.commitments import ENTRY_FORMAT, entry_format
from services.audit.ledger.decoding import loads
from services.audit.ledger.merkle import HASH_SIZE, packed_root, root

__all__ = ["AuditReport", "audit_export", "audit_export_file"]

_MAX_LISTED = 20
# A stretch a process reads at once: big enough that starting it costs nothing, small enough that two
# processes finish together (at least _STRETCHES_EACH per process).
_STRETCH_BYTES = 16 << 20
_STRETCHES_EACH = 8
# Leaves whose root is hashed in one piece: a perfect subtree of the ledger's tree (RFC 9162), so the
# roots of the tree and of every saved checkpoint are built from these roots and what follows them.
_SUBTREE = 1 << 13
_SMALL = 1 << 20  # an export this small is read in one process: starting more would cost more

# Index columns of an export line, each the Entry attribute it must equal.
_COLUMN_NAMES = ("event_id", "event_type", "school_id", "student_id", "category", "period", "amount_fen")
_COLUMNS: tuple[tuple[str, Callable[[books.Entry], Any]], ...] = tuple((n, attrgetter(n)) for n in _COLUMN_NAMES)
_STATED, _SAID = itemgetter(*_COLUMN_NAMES), attrgetter(*_COLUMN_NAMES)  # all the columns at once


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


def _fail(report: AuditReport, message: str) -> None:
    if len(report.failures) < _MAX_LISTED:
        report.failures.append(message)
    elif len(report.failures) == _MAX_LISTED:
        report.failures.append("... more failures not listed")


@dataclass
class _Scan:
    """What a stretch of export lines says. Positions `k` count the stretch's lines from 0; the parent
    adds the stretch's first line number."""

    lines: int = 0
    declared: array = field(default_factory=lambda: array("q"))  # each line's "index" (-1 when unreadable)
    odd_indices: dict[int, Any] = field(default_factory=dict)  # k -> an index that is not a small integer
    unreadable: set[int] = field(default_factory=set)
    leaves: bytearray = field(default_factory=bytearray)  # one leaf hash per readable line, in order
    problems: list[tuple[int, str]] = field(default_factory=list)  # (k, "entry k: ..." without the prefix)
    line_problems: list[tuple[int, str]] = field(default_factory=list)  # (k, "line k+2: ..." without it)
    findings: list[tuple[int, str]] = field(default_factory=list)
    event_ids: list[str] = field(default_factory=list)  # each opened entry's event id, in order ...
    event_at: array = field(default_factory=lambda: array("q"))  # ... and its k
    books: dict[str, books.SchoolBooks] = field(default_factory=dict)
    disclosures: list[tuple[int, books.Entry]] = field(default_factory=list)
    # (k, school, day, disclosed field, amount) of each entry a disclosure may sum, in ledger order
    amounts: list[tuple[int, str, date, str, int]] = field(default_factory=list)


def _scan(lines: Iterable[str | bytes], beside: bool = False) -> _Scan:
    """Everything the audit checks entry by entry, over one stretch of lines. With `beside` (export
    format 2) a line's entry may follow its JSON after a tab (bundles.export_line)."""
    out = _Scan()
    ledger = books.Books()
    declared, leaves, problems, event_ids, event_at = out.declared, out.leaves, out.problems, out.event_ids, out.event_at
    for k, line in enumerate(lines):
        try:
            meta, tab, raw = line.partition(_TAB[type(line)]) if beside else (line, None, None)
            item = loads(meta)
            index = item["index"]
            if tab:
                if "entry" in item:
                    raise BundleError("the line has an entry both inside it and beside it")
                body = _beside(raw)
            else:
                body = unb64(item["entry"], "entry")
            stored = unb64(item["leaf_hash"], "leaf_hash")
        except (ValueError, KeyError, TypeError, BundleError) as exc:
            out.line_problems.append((k, f"unreadable export line ({exc})"))
            out.unreadable.add(k)
            declared.append(-1)
            continue
        if type(index) is int and 0 <= index < 1 << 62:
            declared.append(index)
        else:
            declared.append(-1)
            out.odd_indices[k] = index
        h = _leaf_hash(body)
        if stored != h:
            problems.append((k, "the stored leaf hash does not match the entry's bytes"))
        leaves += h
        try:
            entry = read_opened(body, item.get("opening"))
        except books.EntryError as exc:
            problems.append((k, f"not a fee record ({exc})"))
            continue
        except BundleError as exc:
            problems.append((k, str(exc)))
            _amount_unopened(out, k, body)
            continue
        event_ids.append(entry.event_id)
        event_at.append(k)
        try:
            same = _STATED(item) == _SAID(entry)  # every column there and as the entry says: the usual case
        except KeyError:
            same = False
        if not same:
            for name, read in _COLUMNS:
                if name in item and item[name] != read(entry):
                    problems.append((k, f"stored column {name}={item[name]!r} but the entry says {read(entry)!r}"))
        for problem in books.entry_problems(entry):
            out.findings.append((k, f" ({entry.event_type} {entry.event_id}, school {entry.school_id}): {problem}"))
        ledger.add(entry)
        if entry.event_type == "DisclosurePublished":
            out.disclosures.append((k, _with_ledger_size(entry, body)))
        if entry.amount_fen:
            _amount(out, k, entry)
    out.lines = len(declared)
    out.books = ledger.schools
    return out


_TAB = {str: "\t", bytes: b"\t"}


def _leaf_hash(body: bytes) -> bytes:
    return sha256(b"\x00" + body).digest()


_packed_root = packed_root

try:  # the same hashes without hashlib's context per call (_speedups.c, built by `make deps`)
    from services.audit.ledger._speedups import leaf_hash as _leaf_hash
    from services.audit.ledger._speedups import packed_root as _packed_root
except ImportError:  # not built: hashlib
    pass


def _beside(raw: str | bytes) -> bytes:
    """An entry's bytes as they follow its line's tab (to the end of the line, without a line ending)."""
    if type(raw) is str:
        raw = raw.removesuffix("\n").encode()
    return raw.removesuffix(b"\r")


def _amount(out: _Scan, k: int, entry: books.Entry) -> None:
    """Keep an entry's amount (one with an amount) if a disclosure may sum it."""
    name = books.disclosed_field(entry)
    if name is not None:
        out.amounts.append((k, entry.school_id, entry.day, name, entry.amount_fen))


def _amount_unopened(out: _Scan, k: int, body: bytes) -> None:
    """An entry whose personal fields do not open still states its school's money in the clear."""
    try:
        entry = books.read_entry(body)
    except books.EntryError:
        return
    if entry.amount_fen:
        _amount(out, k, entry)


def _with_ledger_size(entry: books.Entry, body: bytes) -> books.Entry:
    """A format-2 disclosure's size as the ledger noted it (commitments.seal) when its publisher gave none."""
    if entry.payload.get("ledger_tree_size") is not None or entry_format(body) != ENTRY_FORMAT:
        return entry
    noted = json.loads(body).get("ledger_tree_size")
    return replace(entry, payload={**entry.payload, "ledger_tree_size": noted})


def _scan_stretch(path: str, start: int, end: int, beside: bool = False) -> _Scan:
    """_scan over the lines that begin in [start, end) of the file (a process's share), read from the page
    cache as they are (mmap) rather than copied into one chunk first."""
    with open(path, "rb") as handle, mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as mapped:
        return _scan(_lines_from(mapped, start, end), beside)


def _lines_from(mapped: mmap.mmap, start: int, end: int) -> Iterator[bytes]:
    """The lines that are not blank and begin in [start, end), without their line ends. The line under way
    at `start` (if any) belongs to the stretch before."""
    size, find = len(mapped), mapped.find
    at = 0
    if start:
        at = find(b"\n", start - 1) + 1 or size
    while at < end:
        stop = find(b"\n", at)
        if stop < 0:
            stop = size
        line = mapped[at:stop]
        if line and not line.isspace():
            yield line
        at = stop + 1


def _header(first: str | None, keys: Keys, origin: str | None) -> tuple[Checkpoint, bool]:
    """The export's signed checkpoint, and whether its entries may be beside their lines (format 2)."""
    if first is None:
        raise BundleError("export has no header line")
    try:
        header = json.loads(first)
    except ValueError as exc:
        raise BundleError("export has no header line") from exc
    if not isinstance(header, dict) or header.get("format") not in (EXPORT_FORMAT, EXPORT_FORMAT_1):
        raise BundleError(f"not a {EXPORT_FORMAT} (or {EXPORT_FORMAT_1}) file")
    return open_note(header.get("checkpoint"), keys, origin, "export checkpoint"), header["format"] == EXPORT_FORMAT


def audit_export(
    open_lines: Callable[[], Iterator[str]],
    keys: Keys,
    *,
    saved_checkpoints: Sequence[str] = (),
    origin: str | None = None,
) -> AuditReport:
    """Audit a full export read line by line in this process (see the module's docstring)."""
    keys = list(keys)
    lines = open_lines()
    checkpoint, beside = _header(next(lines, None), keys, origin)
    return _report(checkpoint, keys, saved_checkpoints, [_scan(lines, beside)])


def audit_export_file(
    path: str,
    keys: Keys,
    *,
    saved_checkpoints: Sequence[str] = (),
    origin: str | None = None,
    processes: int | None = None,
) -> AuditReport:
    """audit_export over an export file, its stretches read by `processes` processes side by side (one per
    core by default; 1 reads it in this process). The report is the same as audit_export's."""
    keys = list(keys)
    with open(path, encoding="utf-8") as handle:
        first = next((line for line in handle if line.strip()), None)
    checkpoint, beside = _header(first, keys, origin)
    body_start = _after_header(path)
    size = os.path.getsize(path)
    processes = processes or os.cpu_count() or 1
    if size - body_start < _SMALL:
        processes = 1
    step = max(1, min(_STRETCH_BYTES, (size - body_start) // (processes * _STRETCHES_EACH) + 1))
    bounds = list(range(body_start, size, step))
    stretches = [(b, bounds[i + 1] if i + 1 < len(bounds) else size) for i, b in enumerate(bounds)]
    if processes == 1 or len(stretches) == 1:
        scans = (_scan_stretch(path, a, b, beside) for a, b in stretches)
        return _report(checkpoint, keys, saved_checkpoints, scans)
    # Each process starts by freezing the heap it inherits (gc.freeze): its collections then never walk the
    # caller's objects, and never copy the pages they sit on. A caller holding a big heap (the bench, with
    # its 100,000 records) made every process's full collections walk it: 1.5 s for 100,000 entries
    # instead of 1.0, back to back.
    with ProcessPoolExecutor(processes, initializer=gc.freeze) as pool:
        # The parent joins each stretch's scan, and hashes the tree's subtrees, as the scans come in, while
        # the processes read the next stretches.
        scans = pool.map(_scan_stretch, [path] * len(stretches), *zip(*stretches, strict=True),
                         [beside] * len(stretches))
        return _report(checkpoint, keys, saved_checkpoints, scans)


def _after_header(path: str) -> int:
    """The byte offset where the header line (the first line that is not blank) ends."""
    with open(path, "rb") as handle:
        for line in iter(handle.readline, b""):
            if line.strip():
                return handle.tell()
    return 0


def _report(checkpoint: Checkpoint, keys: list, saved_checkpoints: Sequence[str], scans: Iterable[_Scan]) -> AuditReport:
    """Join the stretches' scans, in ledger order as they come in, into the report."""
    report = AuditReport(origin=checkpoint.origin, tree_size=checkpoint.size, root_hash=checkpoint.root_hash)
    saved = _saved(report, checkpoint, keys, saved_checkpoints)
    leaves = bytearray()
    seen: set[str] = set()
    ledger: dict[str, books.SchoolBooks] = {}
    disclosures: list[tuple[int, books.Entry]] = []
    amounts: list[tuple[int, str, date, str, int]] = []
    subtrees: list[bytes] = []  # the roots of the whole subtrees of _SUBTREE leaves, in order
    whole = _SUBTREE * HASH_SIZE
    base = 0
    for scan in scans:
        _positions(report, scan, base)
        for k, message in sorted(scan.problems + [(k, "\x00" + m) for k, m in scan.line_problems]):
            _fail(report, f"line {base + k + 2}: {message[1:]}" if message.startswith("\x00")
                  else f"entry {base + k}: {message}")
        ids = set(scan.event_ids)
        if len(ids) == len(scan.event_ids) and seen.isdisjoint(ids):  # no event twice: the usual case
            seen |= ids
        else:
            for k, event_id in zip(scan.event_at, scan.event_ids, strict=True):
                if event_id in seen:
                    _fail(report, f"entry {base + k}: event {event_id} is recorded twice")
                seen.add(event_id)
        report.findings.extend(f"entry {base + k}{text}" for k, text in scan.findings)
        for school, part in scan.books.items():
            if school in ledger:
                ledger[school].merge(part)
            else:
                ledger[school] = part
        disclosures.extend((base + k, d) for k, d in scan.disclosures)
        amounts.extend((base + k, *rest) for k, *rest in scan.amounts)
        leaves += scan.leaves
        base += scan.lines
        while (len(subtrees) + 1) * whole <= len(leaves):  # hashed here while the processes read on
            subtrees.append(_packed_root(leaves[len(subtrees) * whole:(len(subtrees) + 1) * whole]))
    report.entries = len(leaves) // HASH_SIZE
    for size in sorted(s for s in saved if 0 < s <= report.entries):
        prefix_root = _prefix_root(leaves, subtrees, size)
        for cp in saved[size]:
            same = prefix_root == cp.root_hash
            report.prefix_checks.append((size, same))
            if not same:
                _fail(report, f"the first {size} entries do not hash to the root of the saved checkpoint "
                              f"of size {size} ({cp.root_hash.hex()}; they hash to {prefix_root.hex()}): "
                              "history was rewritten")
    if report.entries != checkpoint.size:
        _fail(report, f"the export holds {report.entries} entries but its checkpoint says {checkpoint.size}")
    elif _prefix_root(leaves, subtrees, report.entries) != checkpoint.root_hash:
        _fail(report, "the entries do not hash to the root of the export's signed checkpoint")
    report.books = ledger
    for school in sorted(s for s, b in ledger.items() if not b.balanced):
        b = ledger[school]
        report.findings.append(f"school {school}: books do not balance (debits {b.debit_fen}, credits "
                               f"{b.credit_fen}, bank {b.bank_fen}, cash stated by its events {b.cash_fen})")
    if disclosures:
        _recompute_disclosures(disclosures, amounts, report)
    return report


def _prefix_root(leaves: bytearray, subtrees: list[bytes], size: int) -> bytes:
    """The root of the first `size` leaves: over the roots of the whole subtrees of _SUBTREE leaves it
    covers (its tree's nodes at that height) and the root of the leaves after them, paired level by level
    like the leaves themselves (merkle._mth)."""
    whole = size // _SUBTREE
    rest = leaves[whole * _SUBTREE * HASH_SIZE:size * HASH_SIZE]
    return root(subtrees[:whole] + ([_packed_root(rest)] if rest else []))


def _saved(report: AuditReport, checkpoint: Checkpoint, keys: list, notes: Sequence[str]) -> dict[int, list[Checkpoint]]:
    """The auditor's saved checkpoints by size, after the checks that need no entry: one root per size
    (else the log showed two views), none larger than the export (else it was truncated)."""
    saved: dict[int, list[Checkpoint]] = {}
    for i, note in enumerate(notes):
        cp = open_note(note, keys, checkpoint.origin, f"saved checkpoint {i + 1}")
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
    return saved


def _positions(report: AuditReport, scan: _Scan, base: int) -> None:
    """Every readable line's `index` is its position: an entry removed, inserted or moved shifts them."""
    expected = array("q", range(base, base + scan.lines))
    if scan.declared == expected and not scan.odd_indices:
        return
    for k, index in enumerate(scan.declared):
        if k in scan.unreadable or index == base + k:
            continue
        shown = scan.odd_indices.get(k, index)
        _fail(report, f"line {base + k + 2}: entry index {shown} where {base + k} was expected (an entry was "
                      "removed, inserted or moved)")


def _recompute_disclosures(disclosures: list[tuple[int, books.Entry]],
                           amounts: list[tuple[int, str, date, str, int]], report: AuditReport) -> None:
    """Each disclosure's figures against the entries of the ledger prefix it was computed at (its
    ledger_tree_size, else everything before it), from the amounts the scan kept in ledger order."""
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
    cursor = 0
    for n, school, day, name, amount in amounts:
        while cursor < len(wanted) and wanted[cursor][0] <= n:
            _compare(wanted[cursor], totals, report)
            open_by_school[wanted[cursor][2].school_id].remove(wanted[cursor])
            cursor += 1
        if cursor == len(wanted):
            break
        for _size, index, _d, start, end in open_by_school.get(school, ()):
            if start <= day <= end:
                books.add_amount(totals[index], name, amount)
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
