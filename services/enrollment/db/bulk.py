"""Set-based writes of a reference-data import: COPY a chunk into a staging table, check references
and the caller's scope in SQL, then one upsert that touches only new or changed rows (R28)."""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from services.enrollment.db.uow import EnrollmentUoW, raw_connection


@dataclass(frozen=True)
class KindSpec:
    table: str
    key: str
    columns: tuple[tuple[str, str], ...]  # (column, SQL type) staged and written, key first
    # (query over the staging table `s` returning (line, detail), reason with {} for the detail)
    checks: tuple[tuple[str, str], ...] = ()
    sealed: bool = False  # guardians: contact columns are sealed for new and changed rows only

    @property
    def names(self) -> list[str]:
        return [c for c, _ in self.columns]


def _school_exists(table: str = "schools") -> tuple[str, str]:
    return ("select s.line, s.school_id from stage s where not exists "
            f"(select 1 from {table} p where p.school_id = s.school_id)",
            "school_id: school {} does not exist; import schools first")


SPECS: dict[str, KindSpec] = {
    "districts": KindSpec("districts", "district_id",
                          (("district_id", "text"), ("name", "text"), ("off_work_local", "text"))),
    "schools": KindSpec("schools", "school_id",
                        (("school_id", "text"), ("district_id", "text"), ("name", "text"), ("kind", "text")),
                        (("select s.line, s.district_id from stage s where not exists "
                          "(select 1 from districts p where p.district_id = s.district_id)",
                          "district_id: district {} does not exist; import districts first"),)),
    "staff": KindSpec("staff", "staff_id",
                      (("staff_id", "text"), ("school_id", "text"), ("name", "text"), ("kind", "text"),
                       ("position", "text"), ("organisation", "text"), ("admission", "text"),
                       ("admission_checked_on", "date")),
                      (_school_exists(),)),
    "classes": KindSpec("classes", "class_id",
                        (("class_id", "text"), ("school_id", "text"), ("grade", "integer"), ("name", "text"),
                         ("class_teacher_id", "text")),
                        (_school_exists(),
                         ("select s.line, s.class_teacher_id from stage s where s.class_teacher_id is not null and "
                          "not exists (select 1 from staff t where t.staff_id = s.class_teacher_id "
                          "and t.school_id = s.school_id)",
                          "class_teacher_id: {} is not staff of this school; import staff first"))),
    "students": KindSpec("students", "student_id",
                         (("student_id", "text"), ("school_id", "text"), ("class_id", "text"), ("name", "text"),
                          ("grade", "integer"), ("eligible", "boolean")),
                         (_school_exists(),
                          ("select s.line, s.class_id from stage s where s.class_id is not null and not exists "
                           "(select 1 from classes c where c.class_id = s.class_id and c.school_id = s.school_id)",
                           "class_id: {} is not a class of this school; import classes first"))),
    "guardians": KindSpec("guardians", "guardian_id",
                          (("guardian_id", "text"), ("school_id", "text"), ("name", "text"), ("student_ids", "text[]"),
                           ("locale", "text"), ("phone_masked", "text"), ("consent", "boolean"),
                           ("registered_by", "text")),
                          (_school_exists(),
                           ("select s.line, string_agg(x, ', ' order by x) from stage s "
                            "cross join lateral unnest(s.student_ids) x "
                            "where not exists (select 1 from students t where t.student_id = x) group by s.line",
                            "student_ids: unknown students {}; import students first")),
                          sealed=True),
}


def scope_checks(kind: str, role: str) -> list[tuple[str, str]]:
    """R27: a district imports only for its schools, a school only for itself; an existing record may
    not be moved in from, or out to, someone else's scope. `:scope` is the caller's district or school."""
    spec = SPECS[kind]
    if role == "city":
        return []
    if kind == "schools":  # only the city and districts import schools
        return [("select s.line, s.district_id from stage s where s.district_id <> $1",
                 "district_id: {} is not your district"),
                ("select s.line, t.district_id from stage s join schools t using (school_id) where t.district_id <> $1",
                 "school_id: the school belongs to district {}, not yours")]
    if role == "district":
        checks = [("select s.line, s.school_id from stage s join schools p on p.school_id = s.school_id "
                   "where p.district_id <> $1", "school_id: school {} is not in your district"),
                  (f"select s.line, t.school_id from stage s join {spec.table} t using ({spec.key}) "
                   "join schools p on p.school_id = t.school_id where p.district_id <> $1",
                   f"{spec.key}: already recorded at school {{}}, outside your district")]
        if kind == "guardians":
            checks.append(("select s.line, string_agg(x, ', ' order by x) from stage s cross join lateral "
                           "unnest(s.student_ids) x join students t on t.student_id = x join schools p "
                           "on p.school_id = t.school_id where p.district_id <> $1 group by s.line",
                           "student_ids: {} are outside your district"))
        return checks
    checks = [("select s.line, s.school_id from stage s where s.school_id <> $1", "school_id: {} is not your school"),
              (f"select s.line, t.school_id from stage s join {spec.table} t using ({spec.key}) "
               "where t.school_id <> $1", f"{spec.key}: already recorded at school {{}}, not yours")]
    if kind == "guardians":
        checks.append(("select s.line, string_agg(x, ', ' order by x) from stage s cross join lateral "
                       "unnest(s.student_ids) x join students t on t.student_id = x where t.school_id <> $1 "
                       "group by s.line", "student_ids: {} are not students of your school"))
    return checks


async def stage(uow: EnrollmentUoW, kind: str, rows: list[tuple]) -> None:
    """COPY one chunk into a staging table that lives until the chunk's transaction ends.
    Each row is (line, *columns, row_digest)."""
    spec = SPECS[kind]
    driver = await raw_connection(uow)
    cols = ", ".join(f"{name} {sqltype}" for name, sqltype in spec.columns)
    await driver.execute(f"create temp table stage (line integer primary key, {cols}, row_digest text) on commit drop")
    await driver.copy_records_to_table("stage", records=rows, columns=["line", *spec.names, "row_digest"])


async def refused_lines(uow: EnrollmentUoW, kind: str, role: str, scope: str | None) -> dict[int, list[str]]:
    """Run the reference and scope checks; remove refused rows from the stage; return line -> reasons."""
    driver = await raw_connection(uow)
    reasons: dict[int, list[str]] = defaultdict(list)
    for query, reason in SPECS[kind].checks:
        for line, detail in await driver.fetch(query):
            reasons[line].append(reason.format(detail))
    for query, reason in scope_checks(kind, role):
        for line, detail in await driver.fetch(query, scope):
            reasons[line].append(reason.format(detail))
    if reasons:
        await driver.execute("delete from stage where line = any($1::integer[])", list(reasons))
    return reasons


async def changed_keys(uow: EnrollmentUoW, kind: str) -> list[str]:
    """Keys of staged rows that are new or differ from what is stored (by keyed digest)."""
    spec = SPECS[kind]
    driver = await raw_connection(uow)
    rows = await driver.fetch(f"select s.{spec.key} from stage s left join {spec.table} t using ({spec.key}) "
                              "where t.row_digest is distinct from s.row_digest")
    return [r[0] for r in rows]


async def upsert(uow: EnrollmentUoW, kind: str, sealed: list[tuple[str, str, str | None]] | None = None) -> tuple[list[str], int]:
    """Write new and changed staged rows in one statement; returns (keys written, how many were new).
    Unchanged rows are left alone: re-importing a file writes nothing and publishes nothing."""
    spec = SPECS[kind]
    driver = await raw_connection(uow)
    names = spec.names
    source = "stage s"
    select_cols = [f"s.{n}" for n in names]
    write_cols = list(names)
    if kind == "guardians":
        select_cols[names.index("student_ids")] = "to_jsonb(s.student_ids)"
    if spec.sealed:
        await driver.execute("create temp table sealed (guardian_id text primary key, phone_sealed text not null, "
                             "push_token_sealed text) on commit drop")
        await driver.copy_records_to_table("sealed", records=sealed or [],
                                           columns=["guardian_id", "phone_sealed", "push_token_sealed"])
        source = "stage s join sealed z using (guardian_id)"
        select_cols += ["z.phone_sealed", "z.push_token_sealed"]
        write_cols += ["phone_sealed", "push_token_sealed"]
    updates = ", ".join(f"{c} = excluded.{c}" for c in write_cols[1:])
    rows = await driver.fetch(
        f"insert into {spec.table} ({', '.join(write_cols)}, row_digest, updated_at) "
        f"select {', '.join(select_cols)}, s.row_digest, now() from {source} "
        f"on conflict ({spec.key}) do update set {updates}, row_digest = excluded.row_digest, updated_at = now() "
        f"where {spec.table}.row_digest is distinct from excluded.row_digest "
        f"returning {spec.key}, (xmax = 0) as inserted")
    return [r[0] for r in rows], sum(1 for r in rows if r[1])
