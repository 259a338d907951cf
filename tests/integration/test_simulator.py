"""The simulator on a tiny city against the session's real platform: its own ground truth agrees with
what the services report — every application filed (R1, R6), every check-out message handed to the
channel exactly once (R11, R22), invalid records rejected with reasons (R15), and money on a signed,
offline-verified ledger (R24, R26) — and children's safety at work (issue 16): a staff member the district
removes is refused at their next check-out and the child stays (R28, R11), a refused pickup reaches the
school's safety contact, and one emergency notice reaches every family of its school."""
from __future__ import annotations

import uuid

import pytest

from local.platform import Platform
from simulator.city import generate
from simulator.driver import Simulation, Urls, summary

pytestmark = pytest.mark.integration


async def test_a_tiny_simulated_city_matches_the_simulators_ground_truth_in_every_service(
    platform: Platform, kafka_bootstrap: str
) -> None:
    prefix = f"t{uuid.uuid4().hex[:4]}-"
    city = generate(0.0001, 11, prefix=prefix)
    urls = Urls(**{n: platform[n].url for n in ("enrollment", "attendance", "billing", "notification", "audit")})
    lines: list[str] = []
    sim = Simulation(city, urls, kafka=kafka_bootstrap, say=lines.append, wait_timeout=90)
    report = await sim.run()
    truth = sim.truth
    text = summary(sim, 0)

    assert report.problems == [], text
    assert truth.filed == truth.applied == len(city.participants) > 0
    assert report.filed == truth.filed, "enrollment lists every application the simulator saw filed"
    assert report.accepted == truth.checked_in + truth.activities + truth.collected
    # The handover after the removal is sent once; every other batch twice.
    assert report.duplicates == report.accepted - truth.staff_removed + truth.refused_pickups, "a resent batch changes nothing"
    assert report.rejected == {"unauthorised_collector": 1, "unknown_student": 2, "invalid": 2,
                               "staff_not_admitted": 3}, (report.refusals, "\n".join(lines))
    assert report.messages_by_kind["StudentCheckedOut"] == truth.collected, "one message per collected child"
    assert report.messages_by_kind["UnauthorisedPickupRefused"] >= truth.refused_pickups
    assert report.payments_accepted > 0 and report.disclosures == len(city.schools)
    # Fees come from billing itself (R9, R17): its statements once the month is over, else its month-to-date view.
    billed = ((report.charged_fen, report.waived_fen) if report.statements
              else (report.to_date_charged_fen, report.to_date_waived_fen))
    assert billed == (truth.charged_fen, truth.waived_fen) and truth.charged_fen > 0, text
    assert report.ledger_size > 0
    assert report.checkpoint_verified == "verified" and report.export_verified.startswith("verified")
    assert "Applications" in text and "Ledger" in text

    # Issue 16, acceptance 4: the summary shows the removal, a staff alert and one broadcast, from the services.
    assert report.staff_removed == truth.staff_removed == 1
    assert report.removal == {"refused": "staff_not_admitted", "stayed": True, "handover": "accepted",
                              "status": "collected", "handed_over_by": city.schools[0].staff_ids[1]}, report.removal
    assert ("district removed 1 staff member; their next check-out was refused (staff_not_admitted) and the child "
            "stayed until an admitted teacher handed them over") in text, text
    assert report.staff_alerts["UnauthorisedPickupRefused/safety_contact"] == truth.refused_pickups == 1
    absences = report.staff_alerts["StudentAbsent/class_teacher"]
    assert f"{absences} absence alerts reached class teachers" in text and "1 refused-pickup alerts reached" in text
    families = len(city.schools[0].students)
    broadcast = report.broadcast
    assert report.broadcast_families == truth.broadcast_families == families
    assert (broadcast["recipients"], broadcast["handed_over"], broadcast["failed"], broadcast["queued"]) == (
        families + report.broadcast_staff, families + report.broadcast_staff, 0, 0), broadcast
    assert report.broadcast_staff == 2, "the class teacher and the principal, who registered their contacts"
    assert f"1 emergency broadcast (暴雨停课通知): {families} families and 2 staff, {families + 2} handed to the channel" in text

    # Issue 18: the portal shows the same city. A parent opens the disclosure link from an SMS in the sink,
    # sees the figures and Verify proves them against the running ledger; the bureau's participation of the
    # simulated schools is the simulator's ground truth (a parent's own page: tests/web).
    await _the_portal_shows_the_simulated_city(platform, city, truth, prefix)


async def _the_portal_shows_the_simulated_city(platform: Platform, city, truth, prefix: str) -> None:
    import re

    import httpx
    from playwright.async_api import async_playwright

    from tests.integration.kafkatools import eventually
    from tests.tokens import bearer, mint
    from tests.web.harness import chromium_path

    portal = platform["portal"].url
    async with httpx.AsyncClient(timeout=30) as http:
        sms = (await http.get(f"{platform['notification'].url}/v1/sink", headers=bearer("off-sink", "city"),
                              params={"kind": "finance_disclosure", "recipient_prefix": "gdn-" + prefix,
                                      "limit": 1})).json()
        assert sms, "a disclosure reached a family"
        link = re.search(r"https?://\S+/d/[A-Za-z0-9._:-]+", sms[0]["body"]).group(0)
        assert link.startswith(portal), (link, portal)
        disclosure_id = link.rsplit("/", 1)[1]

        async def proven() -> bool:
            return (await http.get(f"{portal}/api/disclosures/{disclosure_id}/proof")).status_code == 200
        await eventually(proven, timeout=90, what="the disclosure under a published checkpoint")

    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=chromium_path(), headless=True,
                                          args=["--no-sandbox", "--disable-dev-shm-usage"])
        try:
            page = await browser.new_page()
            await page.goto(link)
            assert await page.locator("[data-figure]").count() == 10
            await page.get_by_role("button").click()
            result = page.locator("#verify-result[data-verified]")
            await result.wait_for(timeout=15_000)
            assert await result.get_attribute("data-verified") == "true", await result.inner_text()

            context = await browser.new_context()
            await context.add_cookies([{"name": "beilei_session", "value": mint("off-city", "city"), "url": portal}])
            bureau = await context.new_page()
            await bureau.goto(f"{portal}/bureau")
            ours = {s.school_id for s in city.schools}
            enrolled = eligible = 0
            for row in await bureau.locator("#participation tbody tr.school").all():
                if await row.get_attribute("data-id") in ours:
                    enrolled += int(await row.locator("td[data-enrolled]").inner_text())
                    eligible += int(await row.locator("td[data-eligible]").inner_text())
            assert (enrolled, eligible) == (truth.filed, truth.eligible)
        finally:
            await browser.close()
