"""Benchmark of the enrollment reference-data import (R27, R28): generates a district (default 100
schools, 110,000 students and their guardians) or the whole city (--city: 508 schools, 557,000
students), imports it through the same code path as `python -m services.enrollment.importer` into a
fresh database, and prints rows/s per kind, the total time and the peak memory (getrusage). A second
run of the same files measures the idempotent re-import (nothing written, nothing published)."""
from __future__ import annotations

import argparse
import asyncio
import csv
import json
import os
import resource
import shutil
import sys
import tempfile
import time
import uuid
from pathlib import Path

CITY = {"schools": 508, "students": 557_000, "districts": 12}
DISTRICT = {"schools": 100, "students": 110_000, "districts": 1}
STAFF_PER_SCHOOL = 25
CLASS_SIZE = 45


def peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


class Writer:
    """Streams records to one file per kind, in CSV or JSON Lines; never holds a whole kind in memory."""

    def __init__(self, folder: Path, fmt: str) -> None:
        self.folder, self.fmt = folder, fmt
        self._files: dict[str, tuple] = {}
        self.counts: dict[str, int] = {}

    def write(self, kind: str, record: dict) -> None:
        if kind not in self._files:
            handle = (self.folder / f"{kind}.{self.fmt}").open("w", newline="", encoding="utf-8")
            writer = csv.DictWriter(handle, fieldnames=list(record)) if self.fmt == "csv" else None
            if writer:
                writer.writeheader()
            self._files[kind] = (handle, writer)
        handle, writer = self._files[kind]
        if writer:
            writer.writerow({k: "|".join(v) if isinstance(v, list) else v for k, v in record.items()})
        else:
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
        self.counts[kind] = self.counts.get(kind, 0) + 1

    def close(self) -> None:
        for handle, _ in self._files.values():
            handle.close()


def generate(folder: Path, *, schools: int, students: int, districts: int, fmt: str) -> dict[str, int]:
    """A city's worth of plausible records: each school with staff (a principal, teachers, admitted
    outside providers), classes of about 45, students and one guardian per student."""
    out = Writer(folder, fmt)
    for d in range(districts):
        out.write("districts", {"district_id": f"dst-{d:02d}", "name": f"第{d + 1}区", "off_work_local": "17:30"})
    student_no = 0
    for s in range(schools):
        school, district = f"sch-{s:04d}", f"dst-{s % districts:02d}"
        out.write("schools", {"school_id": school, "district_id": district, "name": f"第{s + 1}小学",
                              "kind": "rural" if s % 3 == 0 else "urban"})
        for t in range(STAFF_PER_SCHOOL):
            provider = t >= STAFF_PER_SCHOOL - 3
            out.write("staff", {"staff_id": f"stf-{s:04d}-{t:02d}", "school_id": school, "name": f"教师{t}",
                                "kind": "provider" if provider else "staff",
                                "position": "principal" if t == 0 else ("coach" if provider else "teacher"),
                                "organisation": "青少年宫" if provider else "", "admission": "admitted",
                                "admission_checked_on": "2025-08-01"})
        in_school = students // schools + (1 if s < students % schools else 0)
        class_count = max(1, -(-in_school // CLASS_SIZE))
        for c in range(class_count):
            out.write("classes", {"class_id": f"cls-{s:04d}-{c:03d}", "school_id": school, "grade": c % 6 + 1,
                                  "name": f"{c % 6 + 1}年级{c // 6 + 1}班",
                                  "class_teacher_id": f"stf-{s:04d}-{1 + c % (STAFF_PER_SCHOOL - 4):02d}"})
        for i in range(in_school):
            student = f"stu-{student_no:07d}"
            c = i % class_count
            out.write("students", {"student_id": student, "school_id": school, "class_id": f"cls-{s:04d}-{c:03d}",
                                   "name": f"学生{student_no}", "grade": c % 6 + 1, "eligible": "true"})
            out.write("guardians", {"guardian_id": f"gdn-{student_no:07d}", "school_id": school,
                                    "name": f"家长{student_no}", "phone": f"13{student_no % 1_000_000_000:09d}",
                                    "student_ids": [student], "locale": "zh-CN", "consent": "true"})
            student_no += 1
    out.close()
    return out.counts


def _database(url: str | None) -> tuple[str, str, str]:
    """A fresh database on the given server, or on the project's local PostgreSQL (sync: call it
    before the event loop starts)."""
    from local import infra

    server = url or os.environ.get("DATABASE_URL") or infra.postgres().address
    name = f"beilei_bench_{uuid.uuid4().hex[:8]}"
    return server, infra.create_database(server, name), name


async def _outbox_rows(url: str) -> int:
    import asyncpg

    conn = await asyncpg.connect(url)
    try:
        return await conn.fetchval("select count(*) from enrollment.outbox")
    finally:
        await conn.close()


async def _drop(server: str, name: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(server)
    try:
        await conn.execute(f'drop database if exists "{name}" with (force)')
    finally:
        await conn.close()


def _print_run(title: str, reports: list, seconds: float) -> None:
    total = sum(r.received for r in reports)
    print(f"\n{title}: {total:,} rows in {seconds:.1f} s = {total / seconds:,.0f} rows/s; peak memory {peak_mib():,.0f} MiB")
    for r in reports:
        print(f"  {r.kind:<9} {r.received:>9,} rows {r.seconds:>7.1f} s {r.rows_per_second:>10,.0f} rows/s  "
              f"new {r.inserted:,}  changed {r.updated:,}  unchanged {r.unchanged:,}  refused {r.rejected:,}  "
              f"events {r.events:,}")


async def main_async(args: argparse.Namespace, server: str, url: str, name: str) -> None:
    from services.enrollment.importer import run
    from services.enrollment.settings import Settings

    shape = CITY if args.city else {"schools": args.schools, "students": args.students, "districts": args.districts}
    folder = Path(tempfile.mkdtemp(prefix="beilei-import-"))
    try:
        started = time.perf_counter()
        counts = generate(folder, fmt=args.format, **shape)
        print(f"generated {sum(counts.values()):,} rows ({', '.join(f'{k} {v:,}' for k, v in counts.items())}) "
              f"as {args.format} in {time.perf_counter() - started:.1f} s; peak memory {peak_mib():,.0f} MiB")
        settings = Settings(database_url=url, import_chunk_rows=args.chunk_rows)
        for attempt in range(2 if args.repeat else 1):
            started = time.perf_counter()
            reports = await run([folder], role="city", subject="bench", district_id=None, school_id=None,
                                errors_to=None, quiet=not args.progress, settings=settings)
            _print_run("first import" if attempt == 0 else "same files again (idempotent)", reports,
                       time.perf_counter() - started)
        print(f"\noutbox: {await _outbox_rows(url):,} GuardianRegistered events queued for the relay")
    finally:
        shutil.rmtree(folder, ignore_errors=True)
        if not args.keep_db:
            await _drop(server, name)
        else:
            print(f"kept database {url}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.enrollment_import", description=__doc__)
    parser.add_argument("--schools", type=int, default=DISTRICT["schools"])
    parser.add_argument("--students", type=int, default=DISTRICT["students"])
    parser.add_argument("--districts", type=int, default=DISTRICT["districts"])
    parser.add_argument("--city", action="store_true", help="the whole city: 508 schools, 557,000 students, 12 districts")
    parser.add_argument("--format", choices=("csv", "jsonl"), default="csv")
    parser.add_argument("--chunk-rows", type=int, default=10_000, help="rows per transaction")
    parser.add_argument("--no-repeat", dest="repeat", action="store_false", help="skip the idempotent second run")
    parser.add_argument("--progress", action="store_true", help="print a line per chunk (as the importer does)")
    parser.add_argument("--database-url", help="server to create the bench database on (default: DATABASE_URL or "
                        "the project's local PostgreSQL)")
    parser.add_argument("--keep-db", action="store_true")
    args = parser.parse_args(argv)
    asyncio.run(main_async(args, *_database(args.database_url)))


if __name__ == "__main__":
    sys.exit(main())
