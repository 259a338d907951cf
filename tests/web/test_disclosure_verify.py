"""A parent opens a disclosure in a browser (desktop and phone), presses Verify and reads, in words, that the
figures are in the signed ledger; the same page with one altered figure, or with one flipped byte in the
proof, is refused in words (issue 18; R21, R26). Debian's Chromium driven by Playwright."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from tests.web.harness import axe_violations


def _verify(page: Any) -> tuple[str, str]:
    page.get_by_role("button").click()
    result = page.locator('#verify-result[data-verified]')
    result.wait_for(timeout=15_000)
    return result.get_attribute("data-verified"), result.inner_text()


PROVEN = {
    "zh": ("这份公示的 10 项数字与账本第 5 条一致，已被检查点（大小 7，根 ",
           "由账本密钥和 2 个见证人签名（witness-city-archive、witness-district-07）。"),
    "en": ("The 10 figures of this disclosure equal entry 5 of the ledger",
           "signed by the ledger's key and 2 witnesses (witness-city-archive, witness-district-07)."),
}


@pytest.mark.parametrize("lang", sorted(PROVEN))
def test_a_parent_presses_verify_and_reads_that_the_figures_are_in_the_signed_ledger(page, site, lang):
    page.goto(site.disclosure_url(lang))
    assert page.locator('[data-figure="fee_income_fen"]').inner_text() == "183,600.00 元"
    verified, words = _verify(page)
    assert verified == "true", words
    assert words.startswith(PROVEN[lang][0]) and words.endswith(PROVEN[lang][1]), words


def test_one_altered_figure_is_refused_in_words_naming_the_figure(page, site):
    page.goto(site.disclosure_url("zh"))
    page.evaluate("""() => {
        const cell = document.querySelector('[data-figure="refunded_fen"]');
        cell.dataset.fen = "9000";
        cell.textContent = "90.00 元";
    }""")
    verified, words = _verify(page)
    assert verified == "false"
    assert words == "未通过验证：页面上的“退费”显示为 90.00 元，账本记录为 900.00 元，两者不一致。"


def test_a_figure_whose_words_alone_were_altered_is_refused(page, site):
    page.goto(site.disclosure_url("en"))
    page.locator('[data-figure="balance_fen"]').evaluate("cell => cell.textContent = '53,200.00 元'")
    verified, words = _verify(page)
    assert verified == "false"
    assert words == 'Not verified: the page shows balance as "53,200.00 元", but the ledger records 43,200.00 yuan.'


def _flip_a_proof_byte(route: Any) -> None:
    proof = json.loads(route.fetch().text())
    path = bytearray(base64.b64decode(proof["inclusion_proof"][0]))
    path[3] ^= 0x01
    proof["inclusion_proof"][0] = base64.b64encode(bytes(path)).decode()
    route.fulfill(status=200, content_type="application/json", body=json.dumps(proof))


def test_one_flipped_byte_in_the_proof_is_refused_in_words(page, site):
    page.route("**/api/disclosures/*/proof", _flip_a_proof_byte)
    page.goto(site.disclosure_url("zh"))
    verified, words = _verify(page)
    assert verified == "false"
    assert words == "未通过验证：包含证明不能从这条账本记录推出检查点的根，这份公示不在已签名的账本中。"


def test_a_proof_that_cannot_be_fetched_is_not_called_verified(page, site):
    page.route("**/api/disclosures/*/proof", lambda route: route.fulfill(status=503, body="busy"))
    page.goto(site.disclosure_url("en"))
    verified, words = _verify(page)
    assert verified == "false"
    assert words == "Could not fetch the proof (HTTP 503); please try again later."


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_disclosure_page_has_no_serious_accessibility_violations_before_or_after_verify(page, site, lang):
    page.goto(site.disclosure_url(lang))
    assert axe_violations(page) == []
    _verify(page)
    assert axe_violations(page) == []
