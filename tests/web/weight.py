"""What the disclosure page weighs on the wire (issue 18: goal at most 150 KB transferred, the verifier
included): every response the browser receives while a parent opens the page and presses Verify, each
counted at its gzip size (what the portal sends to a browser that accepts gzip). `python -m tests.web.weight`
prints the table; tests/web/test_page_weight.py holds the page to the goal."""

from __future__ import annotations

import gzip
import sys
from dataclasses import dataclass
from typing import Any

from tests.portal_js.ledger_fixture import build
from tests.web import fixture_portal
from tests.web.harness import browser, serve

GOAL_BYTES = 150 * 1024


@dataclass(frozen=True)
class Transfer:
    path: str
    raw: int
    gzipped: int


def disclosure_weight(page: Any, url: str) -> list[Transfer]:
    """Open the page, press Verify, and return every response it loaded with its raw and gzip size."""
    responses: list[Any] = []
    page.on("response", lambda response: responses.append(response))
    page.goto(url)
    page.get_by_role("button").click()
    page.locator("#verify-result[data-verified]").wait_for(timeout=15_000)
    transfers = []
    for response in responses:
        body = response.body()
        path = response.url.split("://", 1)[-1].split("/", 1)[-1]
        transfers.append(Transfer("/" + path, len(body), len(gzip.compress(body, compresslevel=6))))
    return transfers


def table(transfers: list[Transfer]) -> str:
    lines = [f"{'raw B':>9} {'gzip B':>9}  file"]
    lines += [f"{t.raw:>9,} {t.gzipped:>9,}  {t.path}" for t in transfers]
    total_raw = sum(t.raw for t in transfers)
    total = sum(t.gzipped for t in transfers)
    lines.append(f"{total_raw:>9,} {total:>9,}  disclosure page with its verifier "
                 f"({total / 1024:.1f} KB transferred; goal <= {GOAL_BYTES // 1024} KB)")
    return "\n".join(lines)


def main() -> None:
    fixture = build()
    with serve(fixture_portal.app(fixture)) as url, browser() as chromium:
        page = chromium.new_page()
        sys.stdout.write(table(disclosure_weight(page, f"{url}/d/{fixture['disclosure_id']}")) + "\n")


if __name__ == "__main__":
    main()
