"""The offline ledger verifier's command line: checks receipts, consistency bundles and full exports with no network
and without trusting the audit service (R24, R26). It imports only the standard library,
`cryptography` and the standard-library-only `services.audit.ledger` package; never pydantic,
SQLAlchemy, the kit or the service.

    python -m services.audit.verifier receipt entry.tlog-proof --key KEY
    python -m services.audit.verifier consistency bundle.json --key KEY --old saved.checkpoint
    python -m services.audit.verifier audit export.jsonl --key KEY --checkpoint saved.checkpoint
    python -m services.audit.verifier checkpoint latest.checkpoint --key KEY
    python -m services.audit.verifier checkpoint latest.checkpoint --key KEY --witnesses witness-policy.txt

With --witnesses, the checkpoint (of the receipt, of the newer side of a consistency bundle, of the export)
must also carry cosignatures of the policy's quorum of known witnesses (C2SP tlog-cosignature/v1,
services/audit/ledger/witness.py); the output names the witnesses that cosigned.

Exit status: 0 verified; 1 verification failed (tampering, a bad signature, a malformed file);
2 wrong usage; 3 verified, but the books or a disclosure do not add up.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

from services.audit.ledger import books
from services.audit.ledger.bundles import BundleError, verify_consistency_bundle, verify_receipt
from services.audit.ledger.checkpoint import CheckpointError, NoteError, load_verifier, open_checkpoint
from services.audit.ledger.full_audit import AuditReport, audit_export_file
from services.audit.ledger.witness import load_policy

__all__ = ["EXIT_FAILED", "EXIT_FINDINGS", "EXIT_OK", "main"]

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_FINDINGS = 3


def _keys(values: Sequence[str]) -> list[str]:
    """Each --key is a verifier key string, or a file holding one key per line."""
    keys = []
    for value in values:
        path = Path(value)
        if "+" not in value and path.is_file():
            keys.extend(line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip())
        else:
            keys.append(value.strip())
    for key in keys:
        try:
            load_verifier(key)
        except NoteError as exc:
            raise BundleError(f"--key {key!r}: {exc}") from exc
    return keys


def _read(path: str) -> str:
    return Path(path).read_text(encoding="utf-8")


def _summary(entry: bytes, opened: dict[str, Any] | None = None) -> dict[str, Any]:
    """What the entry says; a format-2 entry as its opening (checked against the commitments) reveals it."""
    try:
        e = books.describe(opened) if opened is not None else books.read_entry(entry)
    except books.EntryError as exc:
        return {"readable": False, "reason": str(exc)}
    return {"type": e.event_type, "event_id": e.event_id, "school_id": e.school_id, "student_id": e.student_id,
            "amount_fen": e.amount_fen, "day": e.day.isoformat()}


def _emit(out: TextIO, args: argparse.Namespace, result: dict[str, Any], lines: list[str]) -> None:
    cosigned = getattr(args, "cosigned", None)
    if cosigned is not None:
        result = {**result, "cosigned_by": cosigned, "witness_quorum": args.quorum}
        lines = [*lines, f"  cosigned by {len(cosigned)} known witnesses (quorum {args.quorum}): {', '.join(cosigned)}"]
    if args.json:
        out.write(json.dumps(result, ensure_ascii=False, indent=2, sort_keys=True) + "\n")
    else:
        out.write("\n".join(lines) + "\n")


def _receipt(args: argparse.Namespace, out: TextIO) -> int:
    entry = Path(args.entry).read_bytes() if args.entry else None
    verified = verify_receipt(_read(args.file), _keys(args.key), origin=args.origin, entry=entry)
    cp = verified.checkpoint
    summary = _summary(verified.entry, verified.opened)
    result = {"verified": True, "index": verified.index, "origin": cp.origin, "tree_size": cp.size,
              "root_hash": cp.root_hash.hex(), "entry": summary}
    lines = [f"OK: entry {verified.index} is in {cp.origin} at tree size {cp.size} (root {cp.root_hash.hex()})"]
    lines += [f"  {k}: {v}" for k, v in summary.items()]
    _emit(out, args, result, lines)
    return EXIT_OK


def _consistency(args: argparse.Namespace, out: TextIO) -> int:
    bundle = json.loads(_read(args.file))
    old_note = _read(args.old) if args.old else None
    old, new = verify_consistency_bundle(bundle, _keys(args.key), old_checkpoint=old_note, origin=args.origin)
    result = {"verified": True, "origin": new.origin, "old_size": old.size, "new_size": new.size,
              "old_root": old.root_hash.hex(), "new_root": new.root_hash.hex()}
    _emit(out, args, result, [f"OK: {new.origin} at size {old.size} is a prefix of size {new.size}"])
    return EXIT_OK


def _checkpoint(args: argparse.Namespace, out: TextIO) -> int:
    try:
        cp = open_checkpoint(_read(args.file), _keys(args.key), args.origin)
    except (NoteError, CheckpointError) as exc:
        raise BundleError(str(exc)) from exc
    result = {"verified": True, "origin": cp.origin, "tree_size": cp.size, "root_hash": cp.root_hash.hex()}
    _emit(out, args, result, [f"OK: {cp.origin} size {cp.size} root {cp.root_hash.hex()}"])
    return EXIT_OK


def _signed_checkpoint(args: argparse.Namespace) -> str:
    """The signed checkpoint the command rests on: the file itself, the receipt's, the bundle's newer one,
    or the export header's."""
    text = _read(args.file) if args.command != "audit" else _first_line(args.file)
    if args.command == "receipt":
        return text.partition("\n\n")[2]
    if args.command in ("consistency", "audit"):
        found = json.loads(text).get("new_checkpoint" if args.command == "consistency" else "checkpoint")
        if not isinstance(found, str):
            raise BundleError("no signed checkpoint to check the witnesses' cosignatures on")
        return found
    return text


def _witnessed(args: argparse.Namespace) -> None:
    """With --witnesses: require the policy's quorum of witness cosignatures; record who cosigned."""
    if not args.witnesses:
        return
    try:
        policy = load_policy(_read(args.witnesses))
        found = policy.check(_signed_checkpoint(args), _keys(args.key), args.origin)
    except (NoteError, CheckpointError) as exc:
        raise BundleError(str(exc)) from exc
    args.cosigned, args.quorum = [c.witness for c in found], policy.quorum


def _first_line(path: str) -> str:
    with open(path, encoding="utf-8") as handle:
        return next((line for line in handle if line.strip()), "{}")


def _audit(args: argparse.Namespace, out: TextIO) -> int:
    saved = [_read(p) for p in args.checkpoint]
    report = audit_export_file(args.file, _keys(args.key), saved_checkpoints=saved, origin=args.origin,
                               processes=args.processes)
    result = _report_json(report)
    lines = [
        f"{'OK' if report.verified else 'FAILED'}: {report.entries} entries of {report.origin}, "
        f"signed tree size {report.tree_size}, root {report.root_hash.hex()}",
        *(f"  saved checkpoint of size {size}: {'consistent' if ok else 'INCONSISTENT'}"
          for size, ok in report.prefix_checks),
        *(f"  FAILURE: {f}" for f in report.failures),
        f"  schools: {len(report.books)}, unbalanced: {sum(1 for b in report.books.values() if not b.balanced)}",
        *(f"  school {s}: debits {b.debit_fen} credits {b.credit_fen} bank {b.bank_fen} cash {b.cash_fen}"
          for s, b in sorted(report.books.items())[: args.show_schools]),
        f"  disclosures recomputed: {len(report.disclosures)}",
        *(f"  FINDING: {f}" for f in report.findings),
    ]
    _emit(out, args, result, lines)
    if not report.verified:
        return EXIT_FAILED
    return EXIT_FINDINGS if report.findings else EXIT_OK


def _report_json(report: AuditReport) -> dict[str, Any]:
    return {
        "verified": report.verified,
        "origin": report.origin,
        "tree_size": report.tree_size,
        "root_hash": report.root_hash.hex(),
        "entries": report.entries,
        "failures": report.failures,
        "findings": report.findings,
        "saved_checkpoints": [{"tree_size": s, "consistent": ok} for s, ok in report.prefix_checks],
        "schools": {s: {"balanced": b.balanced, "debit_fen": b.debit_fen, "credit_fen": b.credit_fen,
                        "bank_fen": b.bank_fen, "cash_fen": b.cash_fen, "balances": b.balances()}
                    for s, b in sorted(report.books.items())},
        "disclosures": report.disclosures,
    }


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m services.audit.verifier",
        description="Verify the fee ledger offline: receipts, consistency between checkpoints, full exports.",
        epilog="Exit status: 0 verified, 1 verification failed, 2 usage error, 3 verified with findings.",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    def command(name: str, help_text: str, file_help: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.add_argument("file", help=file_help)
        p.add_argument("--key", action="append", required=True,
                       help="trusted log verifier key (name+id+base64), or a file of keys; repeatable")
        p.add_argument("--origin", help="require this log origin")
        p.add_argument("--json", action="store_true", help="print the result as JSON")
        p.add_argument("--witnesses", help="witness policy file ('witness <vkey>' lines, 'quorum <k>'): require "
                       "that many known witnesses' cosignatures on the checkpoint")
        return p

    p = command("receipt", "verify a receipt (.tlog-proof): its entry is in a signed checkpoint", "receipt file")
    p.add_argument("--entry", help="the entry's bytes, if the receipt does not carry them")
    p.set_defaults(run=_receipt)
    p = command("consistency", "verify that an older checkpoint is a prefix of a newer one", "consistency bundle (JSON)")
    p.add_argument("--old", help="your own saved copy of the older checkpoint (replaces the bundle's)")
    p.set_defaults(run=_consistency)
    p = command("checkpoint", "verify a signed checkpoint", "checkpoint (signed note)")
    p.set_defaults(run=_checkpoint)
    p = command("audit", "audit a full export: hashes, root, saved checkpoints, books, disclosures", "export (JSON lines)")
    p.add_argument("--checkpoint", action="append", default=[],
                   help="a checkpoint you saved earlier; the export must extend it (repeatable)")
    p.add_argument("--show-schools", type=int, default=20, help="schools to list in the text output")
    p.add_argument("--processes", type=int, default=None,
                   help="processes reading the export side by side (default: one per core; 1 reads it in one)")
    p.set_defaults(run=_audit)
    return parser


def main(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    args = _parser().parse_args(argv)
    out = out or sys.stdout
    try:
        _witnessed(args)
        return args.run(args, out)
    except (BundleError, OSError, ValueError) as exc:
        _emit(out, args, {"verified": False, "reason": str(exc)}, [f"FAILED: {exc}"])
        return EXIT_FAILED
