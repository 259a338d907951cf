"""Every page type of the portal in a real browser, desktop and phone (issue 18): the schools and a school's
page for anyone; a parent who signs in sees who collected their child today; the bureau's participation
figures are enrollment's report; an auditor opens an anomaly and its evidence; axe-core finds no serious or
critical violation on any of them."""

from __future__ import annotations

from typing import Any

import pytest

from tests.tokens import mint
from tests.web import real_portal
from tests.web.harness import axe_violations


def _sign_in(page: Any, site: Any, role: str, subject: str, **scope: str) -> None:
    page.context.add_cookies([{"name": "beilei_session", "value": mint(subject, role, **scope), "url": site.url}])


def test_anyone_finds_a_school_and_reads_its_programme_fees_safety_and_insurance(page: Any, site: Any) -> None:
    page.goto(site.url + "/")
    page.get_by_role("link", name="实验小学").click()
    page.wait_for_url("**/s/sch-0042")
    body = page.locator("main").inner_text()
    for shown in ("2025秋季课后服务", "15:30–17:30", "15.00 元", "凭接送卡交接", "中国人民财产保险", "校园足球"):
        assert shown in body, shown
    page.get_by_role("link", name=site.disclosure["period_start"], exact=False).click()
    page.wait_for_url(f"**/d/{site.disclosure_id}")
    assert page.locator('[data-figure="fee_income_fen"]').inner_text() == "183,600.00 元"


def test_a_parent_signs_in_and_sees_who_collected_their_child_today(page: Any, site: Any) -> None:
    page.goto(site.url + "/signin")
    page.get_by_label("身份", exact=True).select_option("guardian")
    page.get_by_label("用户编号").fill(real_portal.GUARDIAN)
    page.get_by_role("button", name="登录").click()
    page.wait_for_url("**/me")
    child = page.locator(f'[data-student="{real_portal.STUDENT}"]').inner_text()
    assert real_portal.CHILD_NAME in child and f"已由{real_portal.PICKUP}（授权接送人）接走" in child
    assert "交接老师：王丽" in child and "延时托管 20 分钟" in child


def test_the_bureaus_participation_figures_are_enrollments_report(page: Any, site: Any) -> None:
    _sign_in(page, site, "city", "off-city-01")
    page.goto(site.url + "/bureau")
    rows = page.locator("#participation tbody tr")
    shown = {r.get_attribute("data-id"): (int(r.locator("td[data-enrolled]").inner_text()),
                                          int(r.locator("td[data-eligible]").inner_text()))
             for r in rows.all()}
    truth = real_portal.PARTICIPATION
    assert shown == {**{s["school_id"]: (s["enrolled"], s["eligible"]) for s in truth["schools"]},
                     **{d["district_id"]: (d["enrolled"], d["eligible"]) for d in truth["districts"]},
                     "city": (truth["total"]["enrolled"], truth["total"]["eligible"])}
    assert page.locator("#chart canvas").count() == 1  # ECharts drew the districts


def test_an_auditor_opens_an_anomaly_and_reads_its_evidence(page: Any, site: Any) -> None:
    _sign_in(page, site, "auditor", "aud-01")
    page.goto(site.url + "/auditor")
    page.get_by_role("link", name="charge_to_unenrolled").click()
    page.wait_for_url(f"**/auditor/anomalies/{real_portal.ANOMALY}")
    assert page.locator("#detail").inner_text() == "向未备案学生收费 15.00 元"
    evidence = page.locator("#evidence").inner_text()
    assert "chg-0042-0099" in evidence and "enrolled" in evidence
    assert page.get_by_role("link", name="条目 3 的包含证明").get_attribute("href") == "/auditor/entries/3/proof"


PAGES = {  # page type -> (path, who is signed in)
    "schools": ("/", None), "school": ("/s/sch-0042", None), "signin": ("/signin", None),
    "parent": ("/me", ("guardian", real_portal.GUARDIAN)),
    "messages": ("/me/messages", ("guardian", real_portal.GUARDIAN)),
    "pickups": ("/me/pickups", ("guardian", real_portal.GUARDIAN)), "bureau": ("/bureau", ("city", "off-city-01")),
    "auditor": ("/auditor", ("auditor", "aud-01")),
    "anomaly": (f"/auditor/anomalies/{real_portal.ANOMALY}", ("auditor", "aud-01")),
    "ledger": ("/auditor/ledger?school_id=sch-0042", ("auditor", "aud-01")),
    "review": ("/bureau/review?period=2025-09", ("city", "off-city-01")),
    "consistency": ("/auditor/consistency", ("auditor", "aud-01")),
}


@pytest.mark.parametrize("kind", sorted(PAGES))
def test_every_page_type_has_no_serious_accessibility_violations(page: Any, site: Any, kind: str) -> None:
    path, person = PAGES[kind]
    if person:
        _sign_in(page, site, *person)
    for lang in ("", "&lang=en" if "?" in path else "?lang=en"):
        reply = page.goto(site.url + path + lang)
        assert reply.status == 200
        assert axe_violations(page) == [], (kind, lang)


def _saved_checkpoint(size: int, root: bytes) -> str:
    from services.audit.ledger.checkpoint import Checkpoint, format_checkpoint
    from tests.portal_js.ledger_fixture import ORIGIN, log_signer

    return log_signer().sign_note(format_checkpoint(Checkpoint(ORIGIN, size, root)))


def test_an_auditor_proves_in_the_browser_that_the_ledger_extends_a_checkpoint_saved_earlier(page: Any, site: Any) -> None:
    import base64

    from tests.portal_js.ledger_fixture import build

    consistency = build()["consistency"]
    _sign_in(page, site, "auditor", "aud-01")
    page.goto(site.url + "/auditor/consistency")
    honest = _saved_checkpoint(consistency["old_size"], base64.b64decode(consistency["old_root"]))
    page.get_by_label("您保存的检查点").fill(honest)
    page.get_by_role("button", name="核对").click()
    result = page.locator("#check-result[data-consistent]")
    result.wait_for(timeout=15_000)
    assert result.get_attribute("data-consistent") == "true", result.inner_text()
    assert f"大小 {consistency['old_size']}" in result.inner_text()
    # A history rewritten and re-signed with the log's own key: the saved root no longer leads to the newest.
    rewritten = _saved_checkpoint(consistency["old_size"], bytes(32))
    page.get_by_label("您保存的检查点").fill(rewritten)
    page.get_by_role("button", name="核对").click()
    page.locator('#check-result[data-consistent="false"]').wait_for(timeout=15_000)
    assert "历史被改写" in page.locator("#check-result").inner_text()
