"""Reference-data files in, import reports out: reads CSV, JSON and JSON Lines, and is the command line
`python -m services.enrollment.importer` for a district's or the city's import, with progress output."""
from __future__ import annotations

import argparse
import asyncio
import csv
import io
import json
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO

from services.enrollment.domain.reference import ORDER, Unreadable

csv.field_size_limit(1 << 20)


class FormatError(ValueError):
    """The file as a whole cannot be read (not CSV, not JSON): nothing in it is imported."""


def csv_rows(stream: IO[str]) -> Iterator[tuple[int, dict]]:
    """(line number, row) pairs; line 1 is the header, so the first record is on line 2."""
    reader = csv.DictReader(stream)
    try:
        if not reader.fieldnames:
            return
        reader.fieldnames = [name.strip() for name in reader.fieldnames]
        for row in reader:
            row.pop(None, None)  # cells beyond the header: ignored like unknown columns
            yield reader.line_num, row
    except csv.Error as exc:
        raise FormatError(f"line {reader.line_num}: not readable as CSV ({exc})") from None


def json_rows(data: bytes | str) -> list[tuple[int, object]]:
    """A JSON array of records, or {"records": [...]}; record numbers count from 1."""
    try:
        doc = json.loads(data)
    except ValueError as exc:
        raise FormatError(f"not valid JSON: {exc}") from None
    if isinstance(doc, dict):
        doc = doc.get("records")
    if not isinstance(doc, list):
        raise FormatError('JSON must be an array of records or {"records": [...]}')
    return list(enumerate(doc, 1))


def jsonl_rows(stream: Iterable[str]) -> Iterator[tuple[int, object]]:
    """One JSON object per line (JSON Lines); a line that is not JSON is a row error, not a failed file."""
    for number, line in enumerate(stream, 1):
        if not line.strip():
            continue
        try:
            yield number, json.loads(line)
        except ValueError as exc:
            yield number, Unreadable(f"not valid JSON: {exc}")


def body_rows(body: bytes, media_type: str) -> Iterable[tuple[int, object]]:
    """Rows of an HTTP upload by its media type."""
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise FormatError(f"the file must be UTF-8: {exc}") from None
    if media_type == "text/csv":
        return csv_rows(io.StringIO(text, newline=""))
    if media_type in ("application/x-ndjson", "application/jsonl"):
        return jsonl_rows(io.StringIO(text))
    return json_rows(text)


def file_rows(path: Path) -> Iterable[tuple[int, object]]:
    """Rows of a file by its suffix: .csv, .json, .jsonl/.ndjson. CSV and JSON Lines are streamed."""
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return _streamed(path, csv_rows)
    if suffix in (".jsonl", ".ndjson"):
        return _streamed(path, jsonl_rows)
    if suffix == ".json":
        return json_rows(path.read_bytes())
    raise FormatError(f"{path.name}: unknown format; use .csv, .json or .jsonl")


def _streamed(path: Path, reader) -> Iterator[tuple[int, object]]:
    with path.open(encoding="utf-8-sig", newline="") as stream:
        yield from reader(stream)


def files_in_order(paths: list[Path]) -> list[tuple[str, Path]]:
    """(kind, file) in dependency order; a file is named after its kind: schools.csv, students.jsonl."""
    found: list[tuple[str, Path]] = []
    for path in paths:
        candidates = sorted(path.iterdir()) if path.is_dir() else [path]
        for item in candidates:
            kind = item.name.split(".")[0]
            if kind in ORDER:
                found.append((kind, item))
            elif not path.is_dir():
                raise FormatError(f"{item.name}: name the file after its kind ({', '.join(ORDER)})")
    return sorted(found, key=lambda kp: ORDER.index(kp[0]))


def _progress_printer(stream: IO[str]):
    def show(report) -> None:
        stream.write(f"  {report.kind:<9} {report.received:>9,} rows  +{report.inserted:,} new  ~{report.updated:,} "
                     f"changed  ={report.unchanged:,} same  !{report.rejected:,} refused  "
                     f"{report.rows_per_second:>9,.0f} rows/s\n")
        stream.flush()
    return show


async def run(paths: list[Path], *, role: str, subject: str, district_id: str | None, school_id: str | None,
              errors_to: Path | None, quiet: bool = False, settings=None) -> list:
    """Import files into the database of the settings (DATABASE_URL), migrating it first."""
    from services.enrollment.db import EnrollmentUoW
    from services.enrollment.domain import Actor
    from services.enrollment.handlers import digest_key, import_records
    from services.enrollment.settings import Settings
    from shared.messaging import migrate
    from shared.messaging.db import Database
    from shared.privacy import Sealer

    settings = settings or Settings()
    schema = settings.database_schema or "enrollment"
    await asyncio.to_thread(migrate.upgrade, "enrollment", settings.database_url, schema)
    db = Database(settings.database_url, schema, pool_size=2)
    actor = Actor(subject, role, school_id, district_id)
    sealer = Sealer(settings.contact_sealing_key)
    key = digest_key(settings.contact_sealing_key)
    progress = None if quiet else _progress_printer(sys.stderr)
    reports = []
    try:
        for kind, path in files_in_order(paths):
            if not quiet:
                sys.stderr.write(f"{kind} from {path}\n")
            report = await import_records(lambda: EnrollmentUoW(db, producer="enrollment"), actor, kind,
                                          file_rows(path), sealer=sealer, key=key,
                                          chunk_rows=settings.import_chunk_rows, progress=progress)
            reports.append(report)
    finally:
        await db.dispose()
    if errors_to is not None:
        with errors_to.open("w", newline="", encoding="utf-8") as out:
            writer = csv.writer(out)
            writer.writerow(["kind", "line", "record_id", "reason"])
            for report in reports:
                for err in report.errors:
                    for reason in err.reasons:
                        writer.writerow([report.kind, err.line, err.record_id or "", reason])
    return reports


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m services.enrollment.importer",
        description="Import reference data (districts, schools, staff, classes, students, guardians) from CSV, "
                    "JSON or JSON Lines files named after their kind. Idempotent: run it again to finish or update.")
    parser.add_argument("paths", nargs="+", type=Path, help="files, or folders holding them")
    parser.add_argument("--as", dest="role", choices=("city", "district", "school"), default="city")
    parser.add_argument("--subject", default="import", help="who runs the import (recorded, R27)")
    parser.add_argument("--district", help="the district a district import is for")
    parser.add_argument("--school", help="the school a school import is for")
    parser.add_argument("--errors", type=Path, help="write refused rows and reasons to this CSV file")
    args = parser.parse_args(argv)
    try:
        reports = asyncio.run(run(args.paths, role=args.role, subject=args.subject, district_id=args.district,
                                  school_id=args.school, errors_to=args.errors))
    except FormatError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for r in reports:
        print(f"{r.kind}: {r.received} rows, {r.inserted} new, {r.updated} changed, {r.unchanged} unchanged, "
              f"{r.rejected} refused, {r.events} events, {r.seconds:.1f}s ({r.rows_per_second:,.0f} rows/s)")
    return 1 if any(r.rejected for r in reports) else 0


if __name__ == "__main__":
    sys.exit(main())
