"""The portal's pages from its read models (issue 18; R4, R7, R11, R12, R21, R25, R27, R29): public pages
need no login, carry cache headers and an ETag, name no child; the disclosure page carries every figure for
the browser verifier; the parent sees who collected their own child and nobody else's; the bureau's table
is enrollment's report as the officer may read it; the auditor opens an anomaly and its evidence."""
from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx

from shared.contracts.registry import event_type
from shared.contracts.schema import example_payload
from shared.time import local_day, utc_now
from tests.unit.portal.conftest import Upstreams, session


def ev(type_name: str, /, **fields: Any):
    cls = event_type(type_name, 1)
    return cls.model_validate({**example_payload(cls), **fields})


def _ids(tag: str) -> tuple[str, str, str]:
    suffix = uuid.uuid4().hex[:6]
    return f"sch-{tag}{suffix}", f"dst-{tag}{suffix}", f"{tag}{suffix}"


async def test_the_school_page_is_public_cached_and_shows_what_r4_and_r7_require(client: httpx.AsyncClient, feed) -> None:
    school, district, tag = _ids("pub")
    await feed([ev("ProgrammePublished", programme_id=f"prg-{tag}", school_id=school, district_id=district,
                   school_name="实验小学" + tag)])
    reply = await client.get(f"/s/{school}")
    assert reply.status_code == 200 and reply.headers["cache-control"].startswith("public, max-age=")
    page = reply.text
    for shown in ("实验小学" + tag, "15:30–17:30", "校园足球", "15.00 元", "凭接送卡交接", "PL-2025-330100-0042",
                  "中国人民财产保险", '<html lang="zh-CN">'):
        assert shown in page, shown
    assert (await client.get(f"/s/{school}", headers={"If-None-Match": reply.headers["etag"]})).status_code == 304
    english = (await client.get(f"/s/{school}?lang=en")).text
    assert '<html lang="en">' in english and "Safety measures" in english
    assert (await client.get("/s/sch-nobody")).status_code == 404
    listed = (await client.get(f"/?district={district}")).text
    assert f'href="/s/{school}"' in listed


async def test_the_disclosure_page_carries_each_figure_the_verify_section_and_the_ledger_keys(
        client: httpx.AsyncClient, feed, upstreams: Upstreams) -> None:
    school, district, tag = _ids("dsc")
    await feed([ev("DisclosurePublished", disclosure_id=f"dsc-{tag}", school_id=school, district_id=district,
                   fee_income_fen=18_360_000, ledger_tree_size=42)])
    page = (await client.get(f"/d/dsc-{tag}")).text
    assert 'data-figure="fee_income_fen" data-fen="18360000">183,600.00 元<' in page
    assert f'data-proof-url="/api/disclosures/dsc-{tag}/proof"' in page and 'id="verify-button"' in page
    assert '"log_vkey": "beilei.test/portal+1234+AQ=="' in page and '"quorum": 1' in page
    assert 'src="/static/js/verify-page.js"' in page and "核算至账本第 42 条" in page
    upstreams.proofs[f"dsc-{tag}"] = {"disclosure_id": f"dsc-{tag}", "index": 7}
    first = await client.get(f"/api/disclosures/dsc-{tag}/proof")
    again = await client.get(f"/api/disclosures/dsc-{tag}/proof")
    assert first.json() == again.json() == upstreams.proofs[f"dsc-{tag}"]
    assert first.headers["cache-control"].startswith("public")
    assert sum(r.url.path.endswith(f"dsc-{tag}") for r in upstreams.asked) == 1  # kept, not asked again
    assert (await client.get("/api/disclosures/dsc-unknown/proof")).status_code == 404


async def test_a_parent_sees_who_collected_their_own_child_and_no_other(client: httpx.AsyncClient, feed,
                                                                         upstreams: Upstreams) -> None:
    school, district, tag = _ids("par")
    today = local_day(utc_now())
    now = datetime.now(UTC)
    await feed([
        ev("StaffRegistered", staff_id=f"stf-{tag}", school_id=school, name="王丽"),
        ev("EnrollmentFiled", enrollment_id=f"enr-{tag}", programme_id=f"prg-{tag}", school_id=school,
           district_id=district, student_id=f"stu-{tag}", student_name="小明", guardian_id=f"gdn-{tag}"),
        ev("EnrollmentFiled", enrollment_id=f"enr-{tag}b", programme_id=f"prg-{tag}", school_id=school,
           district_id=district, student_id=f"stu-{tag}b", student_name="小红", guardian_id=f"gdn-{tag}b"),
        ev("StudentCheckedIn", student_id=f"stu-{tag}", school_id=school, session_date=today,
           checked_in_at=now - timedelta(hours=2)),
        ev("StudentCheckedOut", student_id=f"stu-{tag}", school_id=school, session_date=today, checked_out_at=now,
           handed_over_by=f"stf-{tag}", collected_by_name="李奶奶", collected_by_relation="authorised_pickup"),
    ])
    upstreams.applications = [{"application_id": f"app-{tag}", "programme_id": f"prg-{tag}", "student_name": "小明",
                               "status": "waitlisted"}]
    page = await client.get("/me", headers=session("guardian", f"gdn-{tag}"))
    assert "候补中" in page.text and f'data-application="app-{tag}"' in page.text
    asked = next(r for r in upstreams.asked if r.url.path == "/v1/applications")
    assert asked.headers["authorization"].startswith("Bearer ")  # the guardian's own token: enrollment scopes it
    assert page.status_code == 200 and page.headers["cache-control"] == "private, no-store"
    assert "小明" in page.text and "已由李奶奶（授权接送人）接走" in page.text and "交接老师：王丽" in page.text
    assert "小红" not in page.text and f"stf-{tag}" not in page.text
    assert (await client.get("/me")).status_code == 403
    assert (await client.get("/me", headers=session("school", "s", school_id=school))).status_code == 403


async def test_public_pages_name_no_child(client: httpx.AsyncClient, feed) -> None:
    school, district, tag = _ids("pii")
    await feed([ev("ProgrammePublished", programme_id=f"prg-{tag}", school_id=school, district_id=district),
                ev("EnrollmentFiled", enrollment_id=f"enr-{tag}", programme_id=f"prg-{tag}", school_id=school,
                   district_id=district, student_id=f"stu-{tag}", student_name="张小小", guardian_id=f"gdn-{tag}")])
    for path in ("/", f"/s/{school}", f"/?district={district}"):
        body = (await client.get(path)).text
        assert "张小小" not in body and f"stu-{tag}" not in body and f"gdn-{tag}" not in body


async def test_the_bureau_table_is_enrollments_report_as_the_officer_may_read_it(
        client: httpx.AsyncClient, upstreams: Upstreams) -> None:
    upstreams.participation = {
        "schools": [{"school_id": "sch-a", "district_id": "dst-1", "eligible": 200, "enrolled": 157, "rate": 0.785}],
        "districts": [{"district_id": "dst-1", "eligible": 200, "enrolled": 157, "rate": 0.785}],
        "total": {"eligible": 200, "enrolled": 157, "rate": 0.785}}
    officer = session("district", "off-1", district_id="dst-1")
    page = await client.get("/bureau", headers=officer)
    assert page.status_code == 200
    assert ('data-id="sch-a"><th scope="row">sch-a</th><td data-enrolled="157">157</td>'
            '<td data-eligible="200">200</td><td>78.5%</td>') in page.text
    upstreams.filing_times = [{"district_id": "dst-1", "filed": 157, "median_hours": 26.5, "p90_hours": 70.0,
                               "max_hours": 90.0}]
    upstreams.waitlists = [{"programme_id": "prg-a", "school_id": "sch-a", "district_id": "dst-1", "capacity": 157,
                            "taken": 157, "waiting": 12}]
    page = await client.get("/bureau", headers=officer)
    assert "<td>157</td><td>26.5</td><td>70.0</td>" in page.text
    assert "<td>prg-a</td><td>sch-a</td><td>157</td><td>157</td><td>12</td>" in page.text
    asked = next(r for r in upstreams.asked if r.url.path == "/v1/reports/participation")
    assert asked.url.path == "/v1/reports/participation"  # asked with the officer's own token (R27)
    assert asked.headers["authorization"] == "Bearer " + officer["Cookie"].split("=", 1)[1]
    csv = await client.get("/bureau/participation.csv", headers=officer)
    assert csv.text.splitlines()[1:3] == ["district,dst-1,157,200,0.785", "school,sch-a,157,200,0.785"]
    assert (await client.get("/bureau", headers=session("guardian", "g"))).status_code == 403


async def test_an_auditor_opens_an_anomaly_and_its_evidence(client: httpx.AsyncClient, feed) -> None:
    school, district, tag = _ids("anm")
    await feed([ev("AnomalyDetected", anomaly_id=f"anm-{tag}", school_id=school, district_id=district,
                   detail="收费学生未备案", ledger_indexes=[12, 13], evidence={"charged_fen": 1500, "enrolled": False},
                   detected_at=datetime(2026, 12, 5, 8, tzinfo=UTC))])
    auditor = session("auditor", "aud-1")
    listing = (await client.get("/auditor", headers=auditor)).text
    assert f'href="/auditor/anomalies/anm-{tag}"' in listing
    page = (await client.get(f"/auditor/anomalies/anm-{tag}", headers=auditor)).text
    assert "收费学生未备案" in page and "charged_fen" in page and "1500" in page
    assert 'href="/auditor/entries/12/proof"' in page
    proof = await client.get("/auditor/entries/12/proof", headers=auditor)
    assert proof.status_code == 200 and proof.json()["index"] == 12  # asked with the auditor's own token
    assert (await client.get("/auditor/entries/12/proof")).status_code == 403
    other = session("district", "off-2", district_id="dst-other")
    assert (await client.get(f"/auditor/anomalies/anm-{tag}", headers=other)).status_code == 404
    assert (await client.get("/auditor")).status_code == 403


async def test_the_development_sign_in_sets_an_http_only_session_and_sends_each_role_home(
        client: httpx.AsyncClient) -> None:
    form = (await client.get("/signin")).text
    assert 'name="role"' in form
    reply = await client.post("/signin", content="role=guardian&subject=gdn-42",
                              headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert reply.status_code == 303 and reply.headers["location"] == "/me"
    assert "httponly" in reply.headers["set-cookie"].lower()
    bad = await client.post("/signin", content="role=root&subject=x",
                            headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert bad.status_code == 400


async def test_the_read_models_keep_documents_as_json_objects(portal_db, feed) -> None:
    school, district, tag = _ids("doc")
    await feed([ev("ProgrammePublished", programme_id=f"prg-{tag}", school_id=school, district_id=district)])
    async with portal_db.engine.connect() as conn:
        from sqlalchemy import text

        kind = (await conn.execute(text("select jsonb_typeof(document) from programmes where programme_id = :p"),
                                   {"p": f"prg-{tag}"})).scalar_one()
    assert kind == "object"


async def test_an_auditor_browses_the_ledger_by_school_and_period_and_downloads_the_export(
        client: httpx.AsyncClient, upstreams: Upstreams) -> None:
    upstreams.entries = {"checkpoint": {"tree_size": 9, "root_hash": "ab" * 32, "signed_note": "n"}, "next_after": 4,
                         "entries": [{"index": 4, "event_type": "PaymentReceived", "school_id": "sch-a",
                                      "period": "2025-09", "amount_fen": 30000}]}
    auditor = session("auditor", "aud-1")
    page = (await client.get("/auditor/ledger?school_id=sch-a&period=2025-09", headers=auditor)).text
    assert 'data-index="4"' in page and "300.00 元" in page and 'href="/auditor/entries/4/proof"' in page
    assert "after=4" in page  # the next page
    asked = next(r for r in upstreams.asked if r.url.path == "/v1/audit/entries")
    assert asked.url.params["school_id"] == "sch-a" and asked.url.params["period"] == "2025-09"
    upstreams.export = b'{"format":"beilei-ledger-export/1"}\n{"index":0}\n'
    export = await client.get("/auditor/export", headers=auditor)
    assert export.status_code == 200 and export.content == upstreams.export
    assert "ledger-export-3.jsonl" in export.headers["content-disposition"]
    assert (await client.get("/auditor/export", headers=session("city", "c"))).status_code == 403
    assert (await client.get("/auditor/ledger?period=2025-13", headers=auditor)).status_code == 422


async def test_the_monthly_review_cites_its_checkpoint(client: httpx.AsyncClient, upstreams: Upstreams) -> None:
    fields = ("charged_fen", "waived_fen", "fee_income_fen", "subsidy_income_fen", "refunded_fen", "payouts_fen",
              "balance_fen")
    upstreams.review = {"period": "2025-09", "checkpoint": {"tree_size": 77, "root_hash": "cd" * 32, "signed_note": "n"},
                        "totals": {f: 100 for f in fields},
                        "schools": [{"school_id": "sch-a", **{f: 100 for f in fields}}]}
    page = (await client.get("/bureau/review?period=2025-09", headers=session("city", "c"))).text
    assert "依据检查点：大小 77" in page and 'data-school="sch-a"' in page and "1.00 元" in page


async def test_a_parent_withdraws_an_application_and_reports_pressure_anonymously(
        client: httpx.AsyncClient, upstreams: Upstreams) -> None:
    import json

    parent = session("guardian", "gdn-wd")
    form = {"Content-Type": "application/x-www-form-urlencoded", **parent}
    reply = await client.post("/me/applications/app-9/withdraw", headers=form)
    assert reply.status_code == 303 and reply.headers["location"] == "/me?done=withdrawn"
    sent = upstreams.asked[-1]
    assert sent.url.path == "/v1/applications/app-9/withdraw" and sent.headers["authorization"].startswith("Bearer ")
    assert "已撤回报名" in (await client.get("/me?done=withdrawn", headers=parent)).text
    reply = await client.post("/me/coercion-report", headers=form,
                              content="school_id=sch-a&what_happened=%E8%80%81%E5%B8%88%E8%AF%B4%E5%BF%85%E9%A1%BB%E6%8A%A5&happened_on=2025-09-02")
    assert reply.status_code == 303 and reply.headers["location"] == "/me?done=reported"
    report = json.loads(upstreams.asked[-1].content)
    assert report["school_id"] == "sch-a" and report["what_happened"] == "老师说必须报" and "gdn-wd" not in str(report)
    refused = await client.post("/me/coercion-report", headers=form, content="school_id=sch-a&what_happened=")
    assert refused.status_code == 422
    foreign = await client.post("/me/applications/app-9/withdraw", headers={**form, "Origin": "https://evil.example"})
    assert foreign.status_code == 403
    assert (await client.post("/me/applications/app-9/withdraw")).status_code == 403


async def test_the_bureau_reads_the_days_exercise_against_30_minutes_and_extended_care_use(
        client: httpx.AsyncClient, feed, upstreams: Upstreams) -> None:
    school, district, tag = _ids("day")
    day = date(2031, 3, 3)  # later than any other test's day: the dashboard shows the newest
    now = datetime(2031, 3, 3, 9, tzinfo=UTC)
    events = [ev("ProgrammePublished", programme_id=f"prg-{tag}", school_id=school, district_id=district)]
    for i, (minutes, extended) in enumerate([(20, 0), (15, 30), (0, 0)]):
        student = f"stu-{tag}-{i}"
        events.append(ev("StudentCheckedIn", student_id=student, school_id=school, session_date=day, checked_in_at=now))
        if minutes:
            events += [ev("ActivityRecorded", student_id=student, school_id=school, session_date=day,
                          exercise_minutes=minutes, minutes=minutes, activity_id=f"act-{j}") for j in range(2)]
        events.append(ev("StudentCheckedOut", student_id=student, school_id=school, session_date=day,
                         checked_out_at=now + timedelta(hours=8), extended_care_minutes=extended))
    await feed(events)
    page = (await client.get("/bureau", headers=session("city", "c"))).text
    assert "2031-03-03 的课后服务" in page
    assert (f'<tr data-district="{district}"><th scope="row">{district}</th><td>3</td><td>23.3</td>'
            '<td>2 (66.7%)</td><td>1 / 3</td></tr>') in page
