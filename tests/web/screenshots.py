"""Screenshots of the portal's pages, desktop and phone, for the docs and the README (issue 18):
`make screenshots` writes docs/screenshots/<page>-<desktop|phone>.png from the real portal app, its read
models seeded as in the browser tests (tests/web/real_portal.py). Chinese by default, as parents see it; the
disclosure and the parent's statement are shown after Verify, with its words."""

from __future__ import annotations

import sys
import uuid

from local import infra
from tests.portal_js.ledger_fixture import build
from tests.tokens import mint
from tests.web import real_portal
from tests.web.harness import ROOT, VIEWPORTS, browser, serve

OUT = ROOT / "docs" / "screenshots"
PAGES = {  # name -> (path, who is signed in)
    "schools": ("/", None),
    "school": ("/s/sch-0042", None),
    "disclosure": (None, None),
    "parent": ("/me", ("guardian", real_portal.GUARDIAN)),
    "messages": ("/me/messages", ("guardian", real_portal.GUARDIAN)),
    "pickups": ("/me/pickups", ("guardian", real_portal.GUARDIAN)),
    "bureau": ("/bureau", ("city", "off-city-01")),
    "auditor": (f"/auditor/anomalies/{real_portal.ANOMALY}", ("auditor", "aud-01")),
}


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    fixture = build()
    pg = infra.postgres()
    database = infra.create_database(pg.address, f"beilei_screens_{uuid.uuid4().hex[:8]}")
    app = real_portal.portal_app(database, fixture)
    try:
        with serve(app, lifespan="off") as url, browser() as chromium:
            for viewport, options in VIEWPORTS.items():
                for name, (path, person) in PAGES.items():
                    context = chromium.new_context(**options)
                    if person:
                        context.add_cookies([{"name": "beilei_session", "value": mint(person[1], person[0]),
                                              "url": url}])
                    page = context.new_page()
                    page.goto(url + (path or f"/d/{fixture['disclosure_id']}"))
                    if name == "disclosure":
                        page.get_by_role("button", name="验证这份公示").click()
                        page.locator("#verify-result[data-verified]").wait_for(timeout=15_000)
                    if name == "parent":
                        page.get_by_role("button", name="验证收据").first.click()
                        page.locator(".verify-result[data-verified]").first.wait_for(timeout=15_000)
                    if name == "bureau":
                        page.locator("#chart canvas").wait_for(timeout=15_000)
                    target = OUT / f"{name}-{viewport}.png"
                    page.screenshot(path=str(target), full_page=True)
                    sys.stdout.write(f"wrote {target.relative_to(ROOT)} ({target.stat().st_size:,} bytes)\n")
                    context.close()
    finally:
        pg.stop()


if __name__ == "__main__":
    main()
