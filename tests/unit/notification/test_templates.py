"""Templates: every message kind in Chinese and English, chosen per guardian (R22, R23)."""
from __future__ import annotations

import typing

import pytest

from services.notification.db import Known
from services.notification.domain.templates import (
    TEMPLATES,
    VOCAB,
    MissingParameter,
    UnknownTemplate,
    locale_of,
    render,
    template,
    values,
    yuan,
)
from services.notification.handlers.messages import TO_GUARDIAN, _finances, _programme
from shared.contracts.billing import DisclosurePublished
from shared.contracts.enrollment import ApplicationApproved, ApplicationWaitlisted, ProgrammePublished
from shared.contracts.notification import MessageKindV2
from shared.contracts.schema import example_event


def _params(name: str) -> dict[str, str]:
    return {f: "@guardian" if f == "relation" else f"<{f}>" for f in template(name).fields}


@pytest.mark.parametrize("name", sorted(TEMPLATES))
def test_every_template_renders_in_chinese_and_in_english_with_all_its_fields(name: str) -> None:
    params = _params(name)
    zh, en = render(name, "zh-CN", params), render(name, "en", params)
    assert zh.startswith("【蓓蕾课后服务】") and en.startswith("[Beilei]")
    for field, value in params.items():
        if not value.startswith("@"):
            assert value in zh and value in en, field
    assert "{" not in zh + en


@pytest.mark.parametrize("name", sorted(TEMPLATES))
def test_every_template_reports_a_message_kind_of_the_contract(name: str) -> None:
    assert template(name).kind in typing.get_args(MessageKindV2)


def test_the_messages_the_issue_lists_each_have_a_template() -> None:
    kinds = {t.kind for t in TEMPLATES.values()}
    assert kinds == set(typing.get_args(MessageKindV2))


def test_chinese_is_the_default_and_english_is_chosen_per_guardian() -> None:
    params = {"student": "李小明", "time": "17:42", "collector": "王芳", "relation": "@guardian", "staff": "@teacher:张"}
    assert render("pickup", "zh-CN", params) == "【蓓蕾课后服务】李小明已于17:42由王芳（家长）接走，由张老师交接。"
    assert render("pickup", "fr", params) == render("pickup", "zh-CN", params)
    assert locale_of(None) == "zh-CN" and locale_of("en") == "en"
    assert render("pickup", "en", params) == (
        "[Beilei] 李小明 was collected at 17:42 by 王芳 (guardian), handed over by Teacher 张.")


def test_vocabulary_words_are_translated_and_names_are_left_as_they_are() -> None:
    params = {"student": "@your_child", "time": "17:35", "claimant": "@unknown", "reason": "@not_on_pickup_list",
              "staff": "@teacher"}
    assert "您的孩子" in render("unauthorised_pickup", "zh-CN", params)
    english = render("unauthorised_pickup", "en", params)
    assert "your child" in english and "they are not on the pickup list" in english and "an unknown person" in english
    assert set(VOCAB["zh-CN"]) == set(VOCAB["en"])


def test_provider_template_values_follow_the_field_order_of_the_template() -> None:
    params = _params("fee_due")
    assert list(values("fee_due", "en", params)) == ["student", "amount", "period", "quantity", "due"]


def test_a_missing_parameter_or_an_unknown_template_is_an_error_not_a_blank() -> None:
    with pytest.raises(MissingParameter):
        render("pickup", "zh-CN", {"student": "李小明"})
    with pytest.raises(UnknownTemplate):
        render("no_such_template", "zh-CN", {})


def test_money_in_fen_is_shown_in_yuan_with_two_decimals() -> None:
    assert yuan(30000) == "300.00"
    assert yuan(1505) == "15.05"
    assert yuan(7) == "0.07"
    assert yuan(-250) == "-2.50"


def test_a_programme_notice_without_a_page_for_people_carries_no_link_at_all() -> None:
    """Issue 16: a programme notice ended in "详情：-"; with no page made for people there is no link (R23)."""
    params = {"school": "实验小学", "programme": "秋季课后服务", "fee": "3.00", "extended_fee": "2.00"}
    zh = render("programme_disclosure_no_link", "zh-CN", params)
    en = render("programme_disclosure_no_link", "en", params)
    assert zh == "【蓓蕾课后服务】实验小学公布了秋季课后服务：每次3.00元，延时托管每次2.00元。"
    assert en == "[Beilei] 实验小学 published 秋季课后服务: CNY 3.00 per session, CNY 2.00 per extended-care session."
    assert template("programme_disclosure_no_link").kind == template("programme_disclosure").kind


def test_a_programme_published_without_a_disclosure_url_is_told_without_a_link() -> None:
    event = example_event(ProgrammePublished)
    name, params = _programme(event.model_copy(update={"disclosure_url": None}), Known(), None)
    assert name == "programme_disclosure_no_link" and "url" not in params
    assert "详情" not in render(name, "zh-CN", params)
    name, params = _programme(event.model_copy(update={"disclosure_url": "https://example.org/p/1"}), Known(), None)
    assert name == "programme_disclosure" and render(name, "zh-CN", params).endswith("详情：https://example.org/p/1")


def test_with_a_portal_configured_disclosures_and_programmes_link_to_its_pages_for_people() -> None:
    """Issue 18: the SMS link of a disclosure opens the portal's disclosure page (with its Verify button), a
    programme notice the school's page; short paths, never an API. Without a portal, the school's own page."""
    disclosure = example_event(DisclosurePublished)
    name, params = _finances(disclosure, Known(), "https://khfw.example.cn/")
    assert name == "finance_disclosure" and params["url"] == f"https://khfw.example.cn/d/{disclosure.disclosure_id}"
    assert render(name, "zh-CN", params).endswith(f"详情：https://khfw.example.cn/d/{disclosure.disclosure_id}")
    name, params = _finances(disclosure, Known(), None)
    assert params.get("url") == (disclosure.url if disclosure.url.startswith("https://") else None)
    programme = example_event(ProgrammePublished)
    name, params = _programme(programme, Known(), "http://127.0.0.1:8006")
    assert name == "programme_disclosure" and params["url"] == f"http://127.0.0.1:8006/s/{programme.school_id}"


def test_a_family_is_told_its_place_on_the_waitlist_and_when_a_place_frees_up() -> None:
    """Issue 16, R6: waitlisting was never told, and a promotion read like any approval."""
    name, params = TO_GUARDIAN["ApplicationWaitlisted"](example_event(ApplicationWaitlisted).model_copy(
        update={"position": 3}), "李小明", Known())
    assert name == "application_waitlisted" and template(name).kind == "application_approved"
    assert "候补第3位" in render(name, "zh-CN", params) and "number 3 on the waiting list" in render(name, "en", params)
    approved = example_event(ApplicationApproved)
    assert TO_GUARDIAN["ApplicationApproved"](approved, "李小明", Known())[0] == "application_approved"
    name, params = TO_GUARDIAN["ApplicationApproved"](approved.model_copy(update={"promoted_from_waitlist": True}),
                                                      "李小明", Known())
    assert name == "application_promoted" and template(name).kind == "application_approved"
    assert render(name, "zh-CN", params).startswith("【蓓蕾课后服务】有名额空出，李小明已从候补转为录取")
