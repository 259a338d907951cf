"""Golden texts of every template in both languages, from fixed values to fixed text, and no internal id
in any message the service writes (issue 16, R22, R23): a parent reads names, amounts in yuan, local
times and days in words, and links only to pages made for people."""
from __future__ import annotations

import re
import uuid

import pytest
from sqlalchemy import text

from services.notification.domain.templates import TEMPLATES, page_for_people, render, teacher
from shared.contracts.registry import EVENT_TYPES
from shared.contracts.schema import example_envelope
from tests.unit.notification.test_sender import Rig, guardian
from tests.unit.notification.test_staff_alerts import staff

CHILD, PROGRAMME, TEACHER = "李小明", "2025秋季课后服务", "@teacher:张"

# name: (values, Chinese text, English text). The values are what handlers put in a message's params.
GOLDEN: dict[str, tuple[dict[str, str], str, str]] = {
    "check_in": (
        {"student": CHILD, "time": "16:45", "staff": TEACHER},
        "【蓓蕾课后服务】李小明已于16:45由张老师签到参加课后服务。",
        "[Beilei] 李小明 was checked in to after-school service at 16:45 by Teacher 张."),
    "pickup": (
        {"student": CHILD, "time": "17:32", "collector": "李建国", "relation": "@authorised_pickup", "staff": TEACHER},
        "【蓓蕾课后服务】李小明已于17:32由李建国（授权接送人）接走，由张老师交接。",
        "[Beilei] 李小明 was collected at 17:32 by 李建国 (authorised pickup person), handed over by Teacher 张."),
    "pickup_extended_care": (
        {"student": CHILD, "time": "18:05", "collector": "王芳", "relation": "@guardian", "staff": "@teacher",
         "minutes": "35"},
        "【蓓蕾课后服务】李小明已于18:05由王芳（家长）从延时托管接走，由老师交接，延时35分钟。",
        "[Beilei] 李小明 was collected from extended care at 18:05 by 王芳 (guardian), handed over by the teacher; "
        "35 minutes of extended care."),
    "absence": (
        {"student": CHILD, "date": "@date:2025-09-12", "start": "16:30", "grace": "10"},
        "【蓓蕾课后服务】李小明今天（9月12日）课后服务16:30开始，10分钟后仍未签到，请尽快确认孩子去向。",
        "[Beilei] 李小明 had not checked in 10 minutes after today's (12 September) session began at 16:30. "
        "Please check where your child is."),
    "extended_care": (
        {"student": CHILD, "ended": "17:30", "staff": "@teacher:欧阳", "until": "18:30"},
        "【蓓蕾课后服务】李小明在17:30课后服务结束时尚未接走，已转入延时托管，由欧阳老师看护，请于18:30前接孩子。",
        "[Beilei] 李小明 was not collected when the session ended at 17:30 and is now in extended care with "
        "Teacher 欧阳. Please collect your child by 18:30."),
    "extended_care_escalated": (
        {"student": CHILD, "ended": "18:30", "staff": TEACHER},
        "【蓓蕾课后服务】【紧急】延时托管已于18:30结束，李小明仍在校由张老师看护，学校已上报，请立即联系学校。",
        "[Beilei] URGENT: extended care ended at 18:30 and 李小明 is still at school with Teacher 张. "
        "The school has escalated this; please contact the school now."),
    "unauthorised_pickup": (
        {"student": CHILD, "time": "17:35", "claimant": "@unknown", "reason": "@pickup_revoked", "staff": TEACHER},
        "【蓓蕾课后服务】【安全提醒】17:35有人（未知人员）要求接走李小明，因接送授权已撤销被张老师拒绝，孩子仍在校。",
        "[Beilei] SAFETY: at 17:35 someone (an unknown person) asked to collect 李小明 and was refused by Teacher 张 "
        "because their pickup authorisation was revoked. Your child is still at school."),
    "absence_staff": (
        {"student": CHILD, "date": "@date:2025-09-12", "start": "16:30", "grace": "10"},
        "【蓓蕾课后服务】【缺勤提醒】您班上的李小明今天（9月12日）课后服务16:30开始，10分钟后仍未签到，请尽快联系家长确认孩子去向。",
        "[Beilei] ABSENCE: 李小明 of your class had not checked in 10 minutes after today's (12 September) session "
        "began at 16:30. Please contact the family now."),
    "extended_care_escalated_staff": (
        {"programme": PROGRAMME, "student": CHILD, "ended": "18:30", "staff": TEACHER},
        "【蓓蕾课后服务】【紧急】2025秋季课后服务延时托管已于18:30结束，李小明仍无人接走，由张老师在校看护，请立即跟进。",
        "[Beilei] URGENT: extended care in 2025秋季课后服务 ended at 18:30 and no one has collected 李小明, who is at "
        "school with Teacher 张. Please follow up now."),
    "unauthorised_pickup_staff": (
        {"student": CHILD, "time": "17:35", "claimant": "张三", "reason": "@not_on_pickup_list", "staff": TEACHER},
        "【蓓蕾课后服务】【安全提醒】17:35有人（张三）要求接走李小明，因不在接送名单上被张老师拒绝，孩子仍在校，请核实情况。",
        "[Beilei] SAFETY: at 17:35 someone (张三) asked to collect 李小明 and was refused by Teacher 张 because they "
        "are not on the pickup list. The child is still at school; please look into it."),
    "application_submitted": (
        {"student": CHILD, "programme": PROGRAMME},
        "【蓓蕾课后服务】您已为李小明提交课后服务申请（2025秋季课后服务），学校审核后会通知您。",
        "[Beilei] Your after-school application for 李小明 (2025秋季课后服务) was received. "
        "The school will tell you its decision."),
    "application_approved": (
        {"student": CHILD, "programme": "@the_programme"},
        "【蓓蕾课后服务】李小明的课后服务申请（课后服务）已获学校批准，区教育局备案后生效。",
        "[Beilei] The school approved the application for 李小明 (after-school service); "
        "it takes effect once the district files it."),
    "application_waitlisted": (
        {"student": CHILD, "programme": PROGRAMME, "position": "3"},
        "【蓓蕾课后服务】李小明的课后服务申请（2025秋季课后服务）已获学校同意，但名额已满，目前排在候补第3位，有名额空出时会通知您。",
        "[Beilei] The school agreed to the application for 李小明 (2025秋季课后服务), but it is full: your child is "
        "number 3 on the waiting list. We will tell you when a place frees up."),
    "application_promoted": (
        {"student": CHILD, "programme": PROGRAMME},
        "【蓓蕾课后服务】有名额空出，李小明已从候补转为录取（2025秋季课后服务），区教育局备案后生效。",
        "[Beilei] A place has freed up: 李小明 moves from the waiting list into 2025秋季课后服务; "
        "it takes effect once the district files it."),
    "application_rejected": (
        {"student": CHILD, "programme": PROGRAMME, "reason": "名额已满且候补已截止"},
        "【蓓蕾课后服务】李小明的课后服务申请（2025秋季课后服务）未获批准，原因：名额已满且候补已截止。",
        "[Beilei] The application for 李小明 (2025秋季课后服务) was not approved. Reason: 名额已满且候补已截止."),
    "enrollment_filed": (
        {"student": CHILD, "programme": PROGRAMME},
        "【蓓蕾课后服务】李小明已正式参加课后服务（2025秋季课后服务），已在区教育局备案。",
        "[Beilei] 李小明 is now enrolled in after-school service (2025秋季课后服务), filed with the district."),
    "enrollment_withdrawn": (
        {"student": CHILD, "programme": PROGRAMME, "date": "@date:2025-10-08"},
        "【蓓蕾课后服务】李小明自10月8日起退出课后服务（2025秋季课后服务），未提供的服务不收费或按实退费。",
        "[Beilei] 李小明 leaves after-school service (2025秋季课后服务) from 8 October. "
        "Nothing not provided is charged; prepaid sessions are refunded."),
    "fee_due": (
        {"student": CHILD, "amount": "300.00", "period": "@period:2025-09-01~2025-09-30", "quantity": "20",
         "due": "@date:2025-10-10"},
        "【蓓蕾课后服务】李小明课后服务费300.00元（9月1日至9月30日，20次），请于10月10日前缴纳。",
        "[Beilei] After-school fee for 李小明: CNY 300.00 (1 September to 30 September, 20 sessions), due by 10 October."),
    "fee_statement": (
        {"student": CHILD, "period": "@period:2025-09-01~2025-09-30", "provided": "20", "attended": "18",
         "charged": "270.00", "waived": "0.00", "paid": "300.00", "refund": "30.00", "outstanding": "0.00"},
        "【蓓蕾课后服务】李小明9月1日至9月30日课后服务结算：提供20次，出勤18次，应缴270.00元，减免0.00元，已缴300.00元，"
        "应退30.00元，待缴0.00元。",
        "[Beilei] Statement for 李小明, 1 September to 30 September: 20 sessions provided, 18 attended; charged CNY "
        "270.00, waived 0.00, paid 300.00, refund due 30.00, outstanding 0.00."),
    "payment_received": (
        {"student": CHILD, "amount": "300.00", "method": "@wechat_pay"},
        "【蓓蕾课后服务】已收到李小明的课后服务费300.00元（微信支付），已存入学校统一账户。",
        "[Beilei] Payment of CNY 300.00 for 李小明 received by WeChat Pay into the school's account."),
    "fee_waived": (
        {"student": CHILD, "amount": "150.00", "reason": "@hardship"},
        "【蓓蕾课后服务】李小明的课后服务费已减免150.00元，原因：家庭经济困难。",
        "[Beilei] CNY 150.00 of 李小明's after-school fee was waived: family economic hardship."),
    "refund_issued": (
        {"student": CHILD, "amount": "30.00", "reason": "@session_not_provided"},
        "【蓓蕾课后服务】已退还李小明的课后服务费30.00元，原因：课后服务未开展。",
        "[Beilei] CNY 30.00 of 李小明's after-school fee was refunded: sessions not provided."),
    "programme_disclosure": (
        {"school": "@the_school", "programme": PROGRAMME, "fee": "15.00", "extended_fee": "8.00",
         "url": "https://edu.example.cn/khfw/2025q3"},
        "【蓓蕾课后服务】学校公布了2025秋季课后服务：每次15.00元，延时托管每次8.00元，详情：https://edu.example.cn/khfw/2025q3",
        "[Beilei] The school published 2025秋季课后服务: CNY 15.00 per session, CNY 8.00 per extended-care session. "
        "Details: https://edu.example.cn/khfw/2025q3"),
    "programme_disclosure_no_link": (
        {"school": "@the_school", "programme": PROGRAMME, "fee": "15.00", "extended_fee": "8.00"},
        "【蓓蕾课后服务】学校公布了2025秋季课后服务：每次15.00元，延时托管每次8.00元。",
        "[Beilei] The school published 2025秋季课后服务: CNY 15.00 per session, CNY 8.00 per extended-care session."),
    "finance_disclosure": (
        {"school": "@the_school", "start": "@date:2025-07-01", "end": "@date:2025-09-30", "income": "120000.00",
         "subsidy": "30000.00", "spent": "100000.00", "balance": "50000.00", "url": "https://edu.example.cn/khfw/2025q3"},
        "【蓓蕾课后服务】学校公布了7月1日至9月30日课后服务收支：收费120000.00元，财政补助30000.00元，支出100000.00元，"
        "结余50000.00元。详情：https://edu.example.cn/khfw/2025q3",
        "[Beilei] The school disclosed after-school income and spending for 1 July to 30 September: fees CNY "
        "120000.00, subsidies 30000.00, spending 100000.00, balance 50000.00. Details: https://edu.example.cn/khfw/2025q3"),
    "finance_disclosure_no_link": (
        {"school": "@the_school", "start": "@date:2025-07-01", "end": "@date:2025-09-30", "income": "120000.00",
         "subsidy": "30000.00", "spent": "100000.00", "balance": "50000.00"},
        "【蓓蕾课后服务】学校公布了7月1日至9月30日课后服务收支：收费120000.00元，财政补助30000.00元，支出100000.00元，"
        "结余50000.00元。",
        "[Beilei] The school disclosed after-school income and spending for 1 July to 30 September: fees CNY "
        "120000.00, subsidies 30000.00, spending 100000.00, balance 50000.00."),
    "anomaly_alert": (
        {"school": "@the_school", "check": "@charge_above_standard", "severity": "@critical",
         "detail": "每次收费20.00元，核定标准15.00元"},
        "【蓓蕾课后服务】【审计预警】学校：收费超过核定标准（严重）。每次收费20.00元，核定标准15.00元",
        "[Beilei] AUDIT ALERT The school: a charge above the approved standard (critical). 每次收费20.00元，核定标准15.00元"),
    "emergency_broadcast": (
        {"title": "暴雨停课通知", "body": "受暴雨影响，今日课后服务暂停，请家长按时接孩子。"},
        "【蓓蕾课后服务】【紧急通知】暴雨停课通知：受暴雨影响，今日课后服务暂停，请家长按时接孩子。",
        "[Beilei] URGENT NOTICE: 暴雨停课通知: 受暴雨影响，今日课后服务暂停，请家长按时接孩子。"),
}

# Internal ids as the platform mints them (students, guardians, staff, schools, programmes, pickup persons,
# districts, applications, enrollments, activities, officials, classes, notifications) and UUIDs.
INTERNAL_ID = re.compile(r"(?<![0-9A-Za-z])(?:stu|gdn|stf|sch|prg|pku|dst|app|enr|act|off|aud|pri|cls|ntf|sys)-\w"
                         r"|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.IGNORECASE)
LINK = re.compile(r"https?://\S+")


def ids_in(body: str) -> list[str]:
    """Internal ids a parent would read; a link is judged by page_for_people, not by the words in its path."""
    return INTERNAL_ID.findall(LINK.sub("", body))


def test_every_template_has_its_golden_texts() -> None:
    assert sorted(GOLDEN) == sorted(TEMPLATES)


@pytest.mark.parametrize("name", sorted(GOLDEN))
@pytest.mark.parametrize("locale", ["zh-CN", "en"])
def test_each_template_renders_its_golden_text(name: str, locale: str) -> None:
    params, zh, en = GOLDEN[name]
    assert render(name, locale, params) == (en if locale == "en" else zh)


@pytest.mark.parametrize("name", sorted(GOLDEN))
def test_no_golden_text_shows_an_internal_id(name: str) -> None:
    _, zh, en = GOLDEN[name]
    assert ids_in(zh) == [] and ids_in(en) == []


def test_the_id_check_sees_the_ids_messages_used_to_show() -> None:
    """Issue 16's own examples, so the check above can fail."""
    for shown in ("交接老师：stf-sab2b-0002-02", "sch-sab2b-0002公布了", "申请（prg-sch-sab2b-0002）",
                  "5f0c1d2e-3a4b-4c5d-8e6f-7a8b9c0d1e2f"):
        assert ids_in(shown), shown
    assert ids_in("详情：https://edu.example.cn/sch-0042/khfw") == []


def test_a_staff_member_is_named_by_surname_and_老师_or_just_老师() -> None:
    assert [teacher(n) for n in ("张伟", "张老师", "欧阳修文", "欧阳", "Anna Smith", "", None)] == [
        "@teacher:张", "@teacher:张", "@teacher:欧阳", "@teacher:欧", "@teacher:Smith", "@teacher", "@teacher"]


def test_links_go_only_to_https_pages_made_for_people() -> None:
    assert page_for_people("https://edu.example.cn/khfw/2025q3") == "https://edu.example.cn/khfw/2025q3"
    for url in ("http://127.0.0.1:8003/v1/disclosures/dsc-1", "https://billing.example.cn/v1/disclosures/dsc-1",
                "https://edu.example.cn/api/programmes/1", "-", "", None, "ftp://edu.example.cn/a"):
        assert page_for_people(url) is None, url


async def _consume_every_example(rig: Rig) -> None:
    """Every event type's contract example (under a new event id), as consumed from the topics notification
    reads, with the examples' guardians (one reading Chinese, one English) and auditor on file."""
    await rig.consume(guardian("gdn-000456", ["stu-000123"], school="sch-0042"))
    await rig.consume(guardian("gdn-000457", ["stu-000123"], school="sch-0042", locale="en"))
    async with rig.db.engine.begin() as conn:
        await conn.execute(text("insert into contacts (recipient_id, role, district_id, phone_sealed, phone_masked,"
                                " consent) values ('aud-07', 'auditor', 'dst-07', 'x', '139****0009', true)"
                                " on conflict do nothing"))
    for (type_name, _), cls in sorted(EVENT_TYPES.items()):
        if cls.topic in ("enrollment.events", "attendance.events", "billing.events", "audit.events") \
                and type_name not in ("GuardianRegistered", "StaffRegistered"):
            try:
                await rig.consume(example_envelope(cls).model_copy(update={"event_id": uuid.uuid4()}))
            except KeyError:  # notification takes no such event: nothing to read
                continue


async def _bodies(rig: Rig) -> list[tuple[str, str, str]]:
    async with rig.db.engine.connect() as conn:
        rows = await conn.execute(text("select cause_event_type, locale, body from messages where body is not null"))
        return [(r[0], r[1], r[2]) for r in rows]


async def test_no_message_the_service_writes_for_the_contracts_examples_shows_an_internal_id(db) -> None:
    """The contract examples name stu-000123, stf-0311, prg-0042-2025a, sch-0042 and more throughout:
    with no names known, and again once the staff member's and the programme's names are learnt, no
    message body shows one."""
    rig = Rig(db)
    await _consume_every_example(rig)
    assert not any("刘老师" in body for *_, body in await _bodies(rig))
    await rig.consume(staff("stf-0311", "sch-0042", ["safety_contact"], name="刘洋"))
    await _consume_every_example(rig)
    bodies = await _bodies(rig)
    assert len({t for t, _, _ in bodies}) >= 18 and {locale for _, locale, _ in bodies} == {"zh-CN", "en"}
    assert any("刘老师" in body for *_, body in bodies) and any("2025秋季课后服务" in body for *_, body in bodies)
    shown = [(t, body) for t, _, body in bodies if ids_in(body)]
    assert shown == []
