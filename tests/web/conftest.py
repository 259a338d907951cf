"""Fixtures of the browser tests: the disclosure page served over a real ledger built by the audit's code,
and Debian's Chromium through Playwright, one page per viewport (desktop and phone)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from tests.portal_js.ledger_fixture import build
from tests.web import real_portal
from tests.web.harness import VIEWPORTS, browser, serve


@dataclass(frozen=True)
class Site:
    url: str
    disclosure_id: str
    disclosure: dict[str, Any]

    def disclosure_url(self, lang: str = "zh") -> str:
        return f"{self.url}/d/{self.disclosure_id}" + ("?lang=en" if lang == "en" else "")


@pytest.fixture(scope="session")
def site(database_url: str) -> Iterator[Site]:
    """The real portal, its read models seeded and audit answered from the ledger fixture."""
    fixture = build()
    with serve(real_portal.portal_app(database_url, fixture), lifespan="off") as url:
        yield Site(url, fixture["disclosure_id"], fixture["disclosure"])


@pytest.fixture(scope="session")
def chromium(site: Site) -> Iterator[Any]:
    # After the site: Playwright's sync API runs an event loop on this thread, and the database fixtures
    # the site needs run their own (asyncio.run) before it.
    with browser() as launched:
        yield launched


@pytest.fixture(params=sorted(VIEWPORTS))
def page(request: pytest.FixtureRequest, chromium: Any) -> Iterator[Any]:
    context = chromium.new_context(**VIEWPORTS[request.param])
    opened = context.new_page()
    errors: list[str] = []
    opened.on("pageerror", lambda error: errors.append(str(error)))
    yield opened
    context.close()
    assert not errors, f"the page threw: {errors}"
