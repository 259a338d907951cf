"""Screenshots of the portal's pages, desktop and phone, for the docs and the README (issue 18):
`make screenshots` writes docs/screenshots/<page>-<desktop|phone>.png. Chinese by default, as parents see it;
the disclosure is shown after Verify, with its words."""

from __future__ import annotations

import sys

from tests.portal_js.ledger_fixture import build
from tests.web import fixture_portal
from tests.web.harness import ROOT, VIEWPORTS, browser, serve

OUT = ROOT / "docs" / "screenshots"


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    fixture = build()
    with serve(fixture_portal.app(fixture)) as url, browser() as chromium:
        for viewport, options in VIEWPORTS.items():
            context = chromium.new_context(**options)
            page = context.new_page()
            page.goto(f"{url}/d/{fixture['disclosure_id']}")
            page.get_by_role("button").click()
            page.locator("#verify-result[data-verified]").wait_for(timeout=15_000)
            path = OUT / f"disclosure-{viewport}.png"
            page.screenshot(path=str(path), full_page=True)
            sys.stdout.write(f"wrote {path.relative_to(ROOT)} ({path.stat().st_size:,} bytes)\n")
            context.close()


if __name__ == "__main__":
    main()
