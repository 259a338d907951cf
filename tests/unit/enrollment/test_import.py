"""Reference-data import on PostgreSQL (R1, R27, R28): idempotent, a reason for every refused row,
scoped to the caller, CSV, JSON and JSON Lines, with progress reported per chunk."""
from __future__ import annotations

import json

import pytest

from services.enrollment import handlers as h
from services.enrollment.domain import Actor, DomainError, Forbidden
from services.enrollment.domain.reference import ORDER, parse_record
from tests.unit.enrollment.builders import World
from tests.unit.enrollment.conftest import outbox_events


async def _import(client, kind: str, records: list[dict], token: dict) -> dict:
    reply = await client.post(f"/v1/reference/{kind}", json={"records": records}, headers=token)
    assert reply.status_code == 200, reply.text
    return reply.json()


def _counts(report: dict) -> tuple[int, int, int, int]:
    return report["inserted"], report["updated"], report["unchanged"], report["rejected"]


async def test_importing_the_same_records_again_writes_and_announces_nothing(client, runtime, prefix) -> None:
    w = World(prefix)
    first = {kind: await _import(client, kind, records, w.city) for kind, records in w.reference().items()}
    assert _counts(first["students"]) == (4, 0, 0, 0) and first["guardians"]["events"] == 4
    events_before = len(await outbox_events(runtime))

    again = {kind: await _import(client, kind, records, w.city) for kind, records in w.reference().items()}
    assert all(_counts(r)[:2] == (0, 0) and r["rejected"] == 0 for r in again.values())
    assert again["students"]["unchanged"] == 4 and again["guardians"]["events"] == 0
    assert len(await outbox_events(runtime)) == events_before


async def test_a_changed_record_is_updated_and_a_changed_guardian_announced_with_a_sealed_phone(client, runtime, prefix) -> None:
    w = World(prefix)
    await w.load_reference(client)
    guardians = w.reference()["guardians"]
    guardians[1]["phone"] = "+86 139-1111-2222"
    report = await _import(client, "guardians", guardians, w.city)

    assert _counts(report) == (0, 1, 3, 0) and report["events"] == 1
    (event,) = [e for e in await outbox_events(runtime, key=w.guardians[1]) if e["type"] == "GuardianRegistered"][-1:]
    payload = event["payload"]
    assert payload["phone_masked"] == "139****2222" and "13911112222" not in json.dumps(event)
    assert runtime.context.sealer.unseal(payload["phone_sealed"]) == "13911112222"
    assert payload["registered_by_role"] == "city_officer"


async def test_every_refused_row_has_its_reasons_and_the_rest_is_imported(client, prefix) -> None:
    w = World(prefix)
    await w.load_reference(client)
    students = [
        {"student_id": f"stu-{prefix}-new1", "school_id": w.school, "name": "新生", "grade": 2},
        {"student_id": f"stu-{prefix}-new2", "school_id": w.school, "name": "", "grade": 13},
        {"student_id": f"stu-{prefix}-new3", "school_id": "sch-nowhere", "name": "甲", "grade": 1},
        {"student_id": f"stu-{prefix}-new1", "school_id": w.school, "name": "重复", "grade": 2},
        {"student_id": f"stu-{prefix}-new4", "school_id": w.other_school, "class_id": w.klass, "name": "乙", "grade": 3},
        {"student_id": f"stu-{prefix}-new5", "school_id": w.school, "name": "丙", "grade": 3, "programme_id": "prg-x"},
        "not a record",
    ]
    report = await _import(client, "students", students, w.city)

    assert _counts(report) == (1, 0, 0, 6)
    reasons = {e["line"]: " / ".join(e["reasons"]) for e in report["errors"]}
    assert "name: required" in reasons[2] and "grade: Input should be less than or equal to 12" in reasons[2]
    assert "school sch-nowhere does not exist" in reasons[3]
    assert "appears again (first on line 1)" in reasons[4]
    assert f"{w.klass} is not a class of this school" in reasons[5]
    assert "bulk enrollment is forbidden" in reasons[6] and "R1" in reasons[6]
    assert "object" in reasons[7]


async def test_a_district_imports_only_for_its_own_schools(client, prefix) -> None:
    w, other = World(prefix), World(prefix + "x")
    await w.load_reference(client)
    await other.load_reference(client)
    moved = dict(other.reference()["students"][0], school_id=w.school)
    records = [{"student_id": f"stu-{prefix}-n1", "school_id": w.school, "name": "丁", "grade": 1},
               {"student_id": f"stu-{prefix}-n2", "school_id": other.school, "name": "戊", "grade": 1}, moved]
    report = await _import(client, "students", records, w.district_token)

    assert _counts(report) == (1, 0, 0, 2)
    reasons = {e["line"]: e["reasons"] for e in report["errors"]}
    assert reasons[2] == [f"school_id: school {other.school} is not in your district"]
    assert f"student_id: already recorded at school {other.school}, outside your district" in reasons[3]
    school = await _import(client, "schools", [{"school_id": f"sch-{prefix}-c", "district_id": other.district,
                                                "name": "丙校"}], w.district_token)
    assert school["errors"][0]["reasons"] == [f"district_id: {other.district} is not your district"]


async def test_a_school_imports_only_its_own_people_and_never_schools(client, prefix) -> None:
    w = World(prefix)
    await w.load_reference(client)
    report = await _import(client, "guardians", [
        {"guardian_id": f"gdn-{prefix}-x", "school_id": w.school, "name": "己", "phone": "13800000000",
         "student_ids": [w.students[0]], "consent": True},
        {"guardian_id": f"gdn-{prefix}-y", "school_id": w.other_school, "name": "庚", "phone": "13800000001",
         "student_ids": [w.students[1]], "consent": True},
        {"guardian_id": f"gdn-{prefix}-z", "school_id": w.school, "name": "辛", "phone": "12345",
         "student_ids": ["stu-none"], "consent": True},
    ], w.school_token)

    assert _counts(report) == (1, 0, 0, 2)
    assert report["errors"][0]["reasons"] == [f"school_id: {w.other_school} is not your school"]
    assert "mainland mobile" in report["errors"][1]["reasons"][0]
    for kind in ("schools", "districts"):
        reply = await client.post(f"/v1/reference/{kind}", json={"records": []}, headers=w.school_token)
        assert reply.status_code == 403
    assert (await client.post("/v1/reference/students", json={"records": []},
                              headers=w.guardian_token(0))).status_code == 403


async def test_csv_with_a_byte_order_mark_and_json_lines_are_read(client, prefix) -> None:
    w = World(prefix)
    await w.load_reference(client)
    csv_text = ("\ufeffguardian_id, school_id,name,phone,student_ids,consent,locale\r\n"
                f"gdn-{prefix}-c1,{w.school},壬,13700000001,{w.students[0]}|{w.students[1]},true,\r\n"
                f"gdn-{prefix}-c2,{w.school},癸,13700000002,{w.students[2]},yes,en\r\n")
    reply = await client.post("/v1/reference/guardians", content=csv_text.encode(),
                              headers={**w.city, "Content-Type": "text/csv"})
    assert reply.status_code == 200 and _counts(reply.json()) == (2, 0, 0, 0), reply.text

    lines = "\n".join([json.dumps({"class_id": f"cls-{prefix}-9", "school_id": w.school, "grade": 5, "name": "五班"}),
                       "{not json"])
    reply = await client.post("/v1/reference/classes", content=lines.encode(),
                              headers={**w.city, "Content-Type": "application/x-ndjson"})
    assert _counts(reply.json()) == (1, 0, 0, 1) and "not valid JSON" in reply.json()["errors"][0]["reasons"][0]


async def test_an_unreadable_file_is_refused_whole(client, prefix) -> None:
    w = World(prefix)
    bad_json = await client.post("/v1/reference/students", content=b"[{", headers={**w.city, "Content-Type": "application/json"})
    xml = await client.post("/v1/reference/students", content=b"<x/>", headers={**w.city, "Content-Type": "text/xml"})
    not_utf8 = await client.post("/v1/reference/students", content="名字".encode("gbk"),
                                 headers={**w.city, "Content-Type": "text/csv"})

    assert (bad_json.status_code, xml.status_code, not_utf8.status_code) == (400, 415, 400)
    assert "UTF-8" in not_utf8.json()["detail"]


async def test_progress_is_reported_after_every_chunk(runtime, prefix) -> None:
    rows = list(enumerate([{"district_id": f"dst-{prefix}-{i}", "name": f"区{i}"} for i in range(1200)], 1))
    seen: list[int] = []

    report = await h.import_records(runtime.uow_factory, Actor("city-1", "city"), "districts", rows,
                                    sealer=runtime.context.sealer, key=runtime.context.digest_key, chunk_rows=500,
                                    progress=lambda r: seen.append(r.received))

    assert seen == [500, 1000, 1200] and report.inserted == 1200 and report.rows_per_second > 0


async def test_a_token_without_its_scope_cannot_import(runtime) -> None:
    with pytest.raises(Forbidden):
        await h.import_records(runtime.uow_factory, Actor("x", "auditor"), "students", [],
                               sealer=runtime.context.sealer, key=runtime.context.digest_key)
    with pytest.raises(DomainError, match="must name its district"):
        await h.import_records(runtime.uow_factory, Actor("x", "district"), "students", [],
                               sealer=runtime.context.sealer, key=runtime.context.digest_key)


def test_the_import_order_puts_every_record_after_those_it_names() -> None:
    assert ORDER == ("districts", "schools", "staff", "classes", "students", "guardians")


def test_csv_booleans_numbers_and_lists_are_understood() -> None:
    record, reasons = parse_record("guardians", {"guardian_id": "g1", "school_id": "s1", "name": " 王芳 ",
                                                 "phone": "+86 138 1234 5678", "student_ids": "a; b|c",
                                                 "consent": "yes", "locale": ""})
    assert reasons == [] and record.phone == "13812345678" and record.student_ids == ["a", "b", "c"]
    assert record.name == "王芳" and record.consent is True and record.locale == "zh-CN"


async def test_a_large_chunk_of_events_is_copied_into_the_outbox_in_the_kits_format(runtime, prefix) -> None:
    from sqlalchemy import text

    from shared.contracts.registry import decode

    w = World(prefix, students=600)
    ref = w.reference()
    city = Actor("city-1", "city")
    for kind in ("districts", "schools", "staff", "classes", "students", "guardians"):
        report = await h.import_records(runtime.uow_factory, city, kind, list(enumerate(ref[kind], 1)),
                                        sealer=runtime.context.sealer, key=runtime.context.digest_key,
                                        chunk_rows=1000)
        assert report.rejected == 0
    assert report.events == 600  # more than the unit of work writes without COPY

    async with runtime.db.engine.connect() as conn:
        rows = (await conn.execute(text("select key, value, headers from outbox where key like :k order by id"),
                                   {"k": f"gdn-{prefix}-%"})).all()
    assert len(rows) == 600
    envelope, event = decode(bytes(rows[0].value))
    assert rows[0].headers == {"event_id": str(envelope.event_id), "type": "GuardianRegistered", "version": "1",
                               "correlation_id": envelope.correlation_id, "producer": "enrollment"}
    assert rows[0].key == event.guardian_id == envelope.key and event.registered_by == "city-1"


async def test_a_schools_staff_import_proposes_staff_but_never_admits_them(client, prefix) -> None:
    # R28, issue 16: the admission column was written as sent, so a school admitted its own staff.
    w = World(prefix)
    await w.load_reference(client)
    report = await _import(client, "staff", [
        {"staff_id": f"stf-{prefix}-new", "school_id": w.school, "name": "新老师", "admission": "pending"},
        {"staff_id": f"stf-{prefix}-self", "school_id": w.school, "name": "自批", "admission": "admitted"},
    ], w.school_token)

    assert _counts(report) == (1, 0, 0, 1)
    assert report["errors"][0]["record_id"] == f"stf-{prefix}-self"
    assert "may not admit" in report["errors"][0]["reasons"][0]
