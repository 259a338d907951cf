"""A parent on their own pages in a real browser (desktop and phone; issue 18; R17, R22, R26): a month's
statement with its figures, Verify receipt says in words that the family's receipt is in the signed ledger and
opens its entry; the same receipt with one flipped proof byte, or a figure shown otherwise, is refused in
words; the messages sent to them, and their notification settings saved; a pickup person added."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from tests.tokens import mint
from tests.web import real_portal
from tests.web.harness import axe_violations

STATEMENT = "article[data-receipt-url]"


def _as_parent(page: Any, site: Any, lang: str = "zh") -> None:
    page.context.add_cookies([{"name": "beilei_session", "value": mint(real_portal.GUARDIAN, "guardian"),
                               "url": site.url}])
    page.goto(site.url + "/me" + ("?lang=en" if lang == "en" else ""))


def _verify_receipt(page: Any) -> tuple[str, str]:
    statement = page.locator(STATEMENT).first
    statement.get_by_role("button").click()
    result = statement.locator(".verify-result[data-verified]")
    result.wait_for(timeout=15_000)
    return result.get_attribute("data-verified"), result.inner_text()


PROVEN = {
    "zh": "这份账单（2025-09）的 8 项数字与账本第 6 条一致，您家的凭据打开了这条记录中的个人信息承诺",
    "en": "The 8 figures of this statement (2025-09) equal entry 6 of the ledger; your family's receipt opens",
}


@pytest.mark.parametrize("lang", sorted(PROVEN))
def test_a_parent_sees_a_statement_and_verify_says_its_receipt_is_in_the_signed_ledger(page: Any, site: Any,
                                                                                      lang: str) -> None:
    _as_parent(page, site, lang)
    statement = page.locator(STATEMENT).first
    assert statement.locator('[data-figure="charged_fen"]').inner_text() == "300.00 元"
    assert "2025-09 · " + real_portal.CHILD_NAME in statement.inner_text()
    verified, words = _verify_receipt(page)
    assert verified == "true", words
    assert words.startswith(PROVEN[lang]) and "witness-city-archive" in words, words
    assert axe_violations(page) == []  # the page with its verdict, as the parent reads it


def _flip_a_proof_byte(route: Any) -> None:
    lines = route.fetch().text().split("\n")
    at = next(i for i, line in enumerate(lines) if line.startswith("index ")) + 1
    hash_ = bytearray(base64.b64decode(lines[at]))
    hash_[3] ^= 0x01
    lines[at] = base64.b64encode(bytes(hash_)).decode()
    route.fulfill(status=200, content_type="text/plain", body="\n".join(lines))


def test_a_receipt_with_one_flipped_proof_byte_is_refused_in_words(page: Any, site: Any) -> None:
    page.route("**/me/statements/*/receipt", _flip_a_proof_byte)
    _as_parent(page, site)
    verified, words = _verify_receipt(page)
    assert verified == "false"
    assert words.startswith("未通过验证：包含证明不能从这条账本记录推出检查点的根"), words


def test_a_statement_figure_shown_otherwise_is_refused_naming_it(page: Any, site: Any) -> None:
    _as_parent(page, site, "en")
    page.locator(f'{STATEMENT} [data-figure="waived_fen"]').first.evaluate(
        "cell => { cell.dataset.value = '3000'; cell.textContent = '30.00 元'; }")
    verified, words = _verify_receipt(page)
    assert verified == "false"
    assert words == "Not verified: the page shows waived as 30.00 yuan, but the ledger records 15.00 yuan.", words


def test_a_parent_reads_the_messages_sent_and_saves_their_settings(page: Any, site: Any) -> None:
    _as_parent(page, site)
    page.get_by_role("link", name="消息和提醒设置").click()
    page.wait_for_url("**/me/messages")
    row = page.locator('[data-message="ntf-web-0001"]').inner_text()
    assert "已接走" in row and real_portal.CHILD_NAME in row and "短信" in row
    assert real_portal.MESSAGE_WORDS in row  # the words as sent, from notification with the parent's token
    page.get_by_label("接收方式").select_option("sms_only")
    page.get_by_label("开始").fill("21:30")
    page.get_by_label("结束").fill("07:00")
    page.get_by_role("button", name="保存设置").click()
    page.wait_for_url("**/me/messages?done=saved")
    assert "设置已保存" in page.get_by_role("status").inner_text()
    assert page.get_by_label("接收方式").input_value() == "sms_only"
    assert page.get_by_label("开始").input_value() == "21:30"


def test_a_parent_adds_a_pickup_person_for_their_child(page: Any, site: Any) -> None:
    _as_parent(page, site)
    page.get_by_role("link", name="接送人").click()
    page.wait_for_url("**/me/pickups")
    child = page.locator(f'section[data-student="{real_portal.STUDENT}"]')
    assert real_portal.PICKUP in child.inner_text() and "137****4321" in child.inner_text()
    page.get_by_label("姓名（在校门核对）").fill("王芳")
    page.get_by_label("关系").fill("邻居")
    page.get_by_label("手机号").fill("13912345678")
    page.get_by_label("有效至").fill("2099-06-30")
    page.get_by_role("button", name="授权").click()
    page.wait_for_url("**/me/pickups?done=added")
    assert "已授权" in page.get_by_role("status").inner_text()
    row = child.locator("tr", has_text="王芳").inner_text()
    assert "邻居" in row and "139****5678" in row and "2099-06-30" in row
