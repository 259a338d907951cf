"""Message templates in Chinese (the default) and English, and how they are filled so a parent can read
them: names, amounts in yuan, local times and dates in words, never an internal id; no I/O (R22, R23)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from functools import cached_property
from string import Formatter
from urllib.parse import urlsplit

LOCALES = ("zh-CN", "en")
DEFAULT_LOCALE = "zh-CN"

# A parameter value starting with "@" is a word of this vocabulary, shown in the guardian's language;
# everything else (names, times, amounts) is shown as given.
VOCAB: dict[str, dict[str, str]] = {
    "zh-CN": {
        "@your_child": "您的孩子",
        "@unknown": "未知人员",
        "@guardian": "家长",
        "@authorised_pickup": "授权接送人",
        "@not_on_pickup_list": "不在接送名单上",
        "@identity_not_verified": "身份未能核实",
        "@pickup_revoked": "接送授权已撤销",
        "@hardship": "家庭经济困难",
        "@session_not_provided": "课后服务未开展",
        "@withdrawn": "已退出课后服务",
        "@overpaid": "多缴费用",
        "@other": "其他",
        "@wechat_pay": "微信支付",
        "@alipay": "支付宝",
        "@unionpay": "银联",
        "@bank_transfer": "银行转账",
        "@info": "提示",
        "@warning": "警告",
        "@critical": "严重",
        "@teacher": "老师",
        "@a_student": "一名学生",
        "@the_school": "学校",
        "@the_programme": "课后服务",
        # R25's checks, for auditors' alerts
        "@charge_to_unenrolled": "向未报名学生收费",
        "@charge_to_exempt": "向免费对象收费",
        "@charge_above_standard": "收费超过核定标准",
        "@charge_without_session": "未开展服务仍收费",
        "@income_not_deposited": "收入未存入统一账户",
        "@spending_outside_categories": "超范围支出",
        "@management_fee": "违规提取管理费",
        "@payout_not_per_plan": "未按方案发放劳务费",
        "@books_unbalanced": "账目不平",
        "@coerced_applications": "疑似强制报名",
        "@insurance_missing": "保险缺失",
        "@disclosure_missing": "未按期公示",
        "@conflicting_duplicate": "同一事件内容不一致",
    },
    "en": {
        "@your_child": "your child",
        "@unknown": "an unknown person",
        "@guardian": "guardian",
        "@authorised_pickup": "authorised pickup person",
        "@not_on_pickup_list": "they are not on the pickup list",
        "@identity_not_verified": "their identity could not be verified",
        "@pickup_revoked": "their pickup authorisation was revoked",
        "@hardship": "family economic hardship",
        "@session_not_provided": "sessions not provided",
        "@withdrawn": "withdrawal from the service",
        "@overpaid": "overpayment",
        "@other": "other reasons",
        "@wechat_pay": "WeChat Pay",
        "@alipay": "Alipay",
        "@unionpay": "UnionPay",
        "@bank_transfer": "bank transfer",
        "@info": "info",
        "@warning": "warning",
        "@critical": "critical",
        "@teacher": "the teacher",
        "@a_student": "a student",
        "@the_school": "The school",
        "@the_programme": "after-school service",
        # R25's checks, for auditors' alerts
        "@charge_to_unenrolled": "a charge to a student not enrolled",
        "@charge_to_exempt": "a charge to an exempt student",
        "@charge_above_standard": "a charge above the approved standard",
        "@charge_without_session": "a charge for a session not provided",
        "@income_not_deposited": "income not deposited in the school's account",
        "@spending_outside_categories": "spending outside the allowed categories",
        "@management_fee": "a management fee taken",
        "@payout_not_per_plan": "a payout not per the distribution plan",
        "@books_unbalanced": "books that do not balance",
        "@coerced_applications": "signs of coerced enrollment",
        "@insurance_missing": "insurance missing",
        "@disclosure_missing": "a disclosure missing",
        "@conflicting_duplicate": "one event delivered with different contents",
    },
}

_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
           "November", "December")


def _day(value: str, locale: str) -> str:
    day = date.fromisoformat(value)
    return f"{day.month}月{day.day}日" if locale != "en" else f"{day.day} {_MONTHS[day.month - 1]}"


# A parameter "@word:argument" is a phrase built from the argument in the recipient's language: a staff
# member as surname + 老师 (en "Teacher" + the surname as written: a romanisation guessed from the
# characters is wrong for surnames such as 单 or 曾), a day, a period of days.
PHRASES = {
    "teacher": lambda arg, locale: f"{arg}老师" if locale != "en" else f"Teacher {arg}",
    "date": _day,
    "period": lambda arg, locale: ("至" if locale != "en" else " to ").join(_day(d, locale) for d in arg.split("~")),
}


@dataclass(frozen=True)
class Template:
    """One message: the MessageKind it is reported as, and its text per locale. The fields, in the
    order they appear in the Chinese text, are also the positional parameters of an SMS provider
    template (Tencent's TemplateParamSet) and the names of Aliyun's TemplateParam variables."""

    kind: str
    zh: str
    en: str

    @cached_property  # read for every message sent and every message recorded
    def fields(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(name for _, name, _, _ in Formatter().parse(self.zh) if name))

    def text(self, locale: str) -> str:
        return self.en if locale == "en" else self.zh


B = "【蓓蕾课后服务】"

TEMPLATES: dict[str, Template] = {
    # R22: attendance and safety (R11, R12, R13)
    "check_in": Template("check_in", B + "{student}已于{time}由{staff}签到参加课后服务。",
                         "[Beilei] {student} was checked in to after-school service at {time} by {staff}."),
    "pickup": Template("pickup", B + "{student}已于{time}由{collector}（{relation}）接走，由{staff}交接。",
                       "[Beilei] {student} was collected at {time} by {collector} ({relation}), handed over by {staff}."),
    "pickup_extended_care": Template(
        "pickup", B + "{student}已于{time}由{collector}（{relation}）从延时托管接走，由{staff}交接，延时{minutes}分钟。",
        "[Beilei] {student} was collected from extended care at {time} by {collector} ({relation}), "
        "handed over by {staff}; {minutes} minutes of extended care."),
    "absence": Template("absence", B + "{student}今天（{date}）课后服务{start}开始，{grace}分钟后仍未签到，请尽快确认孩子去向。",
                        "[Beilei] {student} had not checked in {grace} minutes after today's ({date}) session began at "
                        "{start}. Please check where your child is."),
    "extended_care": Template("extended_care", B + "{student}在{ended}课后服务结束时尚未接走，已转入延时托管，由{staff}看护，"
                                               "请于{until}前接孩子。",
                              "[Beilei] {student} was not collected when the session ended at {ended} and is now in "
                              "extended care with {staff}. Please collect your child by {until}."),
    "extended_care_escalated": Template(
        "extended_care_escalated", B + "【紧急】延时托管已于{ended}结束，{student}仍在校由{staff}看护，学校已上报，请立即联系学校。",
        "[Beilei] URGENT: extended care ended at {ended} and {student} is still at school with {staff}. "
        "The school has escalated this; please contact the school now."),
    "unauthorised_pickup": Template(
        "unauthorised_pickup", B + "【安全提醒】{time}有人（{claimant}）要求接走{student}，因{reason}被{staff}拒绝，孩子仍在校。",
        "[Beilei] SAFETY: at {time} someone ({claimant}) asked to collect {student} and was refused by {staff} "
        "because {reason}. Your child is still at school."),
    # R11-R13, issue 16: the same safety events as the staff responsible read them (class teacher, programme
    # lead, school safety contact); reported as the same kinds, so they are as urgent as the guardians' copy.
    "absence_staff": Template(
        "absence", B + "【缺勤提醒】您班上的{student}今天（{date}）课后服务{start}开始，{grace}分钟后仍未签到，"
                   "请尽快联系家长确认孩子去向。",
        "[Beilei] ABSENCE: {student} of your class had not checked in {grace} minutes after today's ({date}) session "
        "began at {start}. Please contact the family now."),
    "extended_care_escalated_staff": Template(
        "extended_care_escalated", B + "【紧急】{programme}延时托管已于{ended}结束，{student}仍无人接走，由{staff}在校看护，"
                                       "请立即跟进。",
        "[Beilei] URGENT: extended care in {programme} ended at {ended} and no one has collected {student}, who is at "
        "school with {staff}. Please follow up now."),
    "unauthorised_pickup_staff": Template(
        "unauthorised_pickup", B + "【安全提醒】{time}有人（{claimant}）要求接走{student}，因{reason}被{staff}拒绝，孩子仍在校，"
                                   "请核实情况。",
        "[Beilei] SAFETY: at {time} someone ({claimant}) asked to collect {student} and was refused by {staff} "
        "because {reason}. The child is still at school; please look into it."),
    # R6: application decisions
    "application_submitted": Template(
        "application_submitted", B + "您已为{student}提交课后服务申请（{programme}），学校审核后会通知您。",
        "[Beilei] Your after-school application for {student} ({programme}) was received. "
        "The school will tell you its decision."),
    "application_approved": Template("application_approved", B + "{student}的课后服务申请（{programme}）已获学校批准，区教育局备案后生效。",
                                     "[Beilei] The school approved the application for {student} ({programme}); "
                                     "it takes effect once the district files it."),
    # A waitlisting is the school's approval while the programme is full (ApplicationWaitlisted): same kind.
    "application_waitlisted": Template(
        "application_approved", B + "{student}的课后服务申请（{programme}）已获学校同意，但名额已满，目前排在候补第{position}位，"
                                     "有名额空出时会通知您。",
        "[Beilei] The school agreed to the application for {student} ({programme}), but it is full: your child is "
        "number {position} on the waiting list. We will tell you when a place frees up."),
    "application_promoted": Template(
        "application_approved", B + "有名额空出，{student}已从候补转为录取（{programme}），区教育局备案后生效。",
        "[Beilei] A place has freed up: {student} moves from the waiting list into {programme}; "
        "it takes effect once the district files it."),
    "application_rejected": Template("application_rejected", B + "{student}的课后服务申请（{programme}）未获批准，原因：{reason}。",
                                     "[Beilei] The application for {student} ({programme}) was not approved. Reason: {reason}."),
    "enrollment_filed": Template("enrollment_filed", B + "{student}已正式参加课后服务（{programme}），已在区教育局备案。",
                                 "[Beilei] {student} is now enrolled in after-school service ({programme}), filed with the district."),
    "enrollment_withdrawn": Template("enrollment_withdrawn", B + "{student}自{date}起退出课后服务（{programme}），"
                                                                 "未提供的服务不收费或按实退费。",
                                     "[Beilei] {student} leaves after-school service ({programme}) from {date}. "
                                     "Nothing not provided is charged; prepaid sessions are refunded."),
    # R16, R17, R22: fees, payments, waivers, refunds
    "fee_due": Template("fee_due", B + "{student}课后服务费{amount}元（{period}，{quantity}次），请于{due}前缴纳。",
                        "[Beilei] After-school fee for {student}: CNY {amount} ({period}, {quantity} sessions), due by {due}."),
    "fee_statement": Template(
        "fee_due", B + "{student}{period}课后服务结算：提供{provided}次，出勤{attended}次，应缴{charged}元，减免{waived}元，"
                      "已缴{paid}元，应退{refund}元，待缴{outstanding}元。",
        "[Beilei] Statement for {student}, {period}: {provided} sessions provided, {attended} attended; charged CNY {charged}, "
        "waived {waived}, paid {paid}, refund due {refund}, outstanding {outstanding}."),
    "payment_received": Template("payment_received", B + "已收到{student}的课后服务费{amount}元（{method}），已存入学校统一账户。",
                                 "[Beilei] Payment of CNY {amount} for {student} received by {method} into the school's account."),
    "fee_waived": Template("fee_waived", B + "{student}的课后服务费已减免{amount}元，原因：{reason}。",
                           "[Beilei] CNY {amount} of {student}'s after-school fee was waived: {reason}."),
    "refund_issued": Template("refund_issued", B + "已退还{student}的课后服务费{amount}元，原因：{reason}。",
                              "[Beilei] CNY {amount} of {student}'s after-school fee was refunded: {reason}."),
    # R4, R7, R21, R23: disclosures
    "programme_disclosure": Template(
        "programme_disclosure", B + "{school}公布了{programme}：每次{fee}元，延时托管每次{extended_fee}元，详情：{url}",
        "[Beilei] {school} published {programme}: CNY {fee} per session, CNY {extended_fee} per extended-care session. "
        "Details: {url}"),
    # No page made for people yet: no link at all, never a placeholder or an internal API.
    "programme_disclosure_no_link": Template(
        "programme_disclosure", B + "{school}公布了{programme}：每次{fee}元，延时托管每次{extended_fee}元。",
        "[Beilei] {school} published {programme}: CNY {fee} per session, CNY {extended_fee} per extended-care session."),
    "finance_disclosure": Template(
        "finance_disclosure", B + "{school}公布了{start}至{end}课后服务收支：收费{income}元，财政补助{subsidy}元，支出{spent}元，"
                                  "结余{balance}元。详情：{url}",
        "[Beilei] {school} disclosed after-school income and spending for {start} to {end}: fees CNY {income}, "
        "subsidies {subsidy}, spending {spent}, balance {balance}. Details: {url}"),
    "finance_disclosure_no_link": Template(
        "finance_disclosure", B + "{school}公布了{start}至{end}课后服务收支：收费{income}元，财政补助{subsidy}元，支出{spent}元，"
                                  "结余{balance}元。",
        "[Beilei] {school} disclosed after-school income and spending for {start} to {end}: fees CNY {income}, "
        "subsidies {subsidy}, spending {spent}, balance {balance}."),
    # R25: alerts to auditors
    "anomaly_alert": Template("anomaly_alert", B + "【审计预警】{school}：{check}（{severity}）。{detail}",
                              "[Beilei] AUDIT ALERT {school}: {check} ({severity}). {detail}"),
    # Issue 16 (应急处置预案): an official's urgent notice to a school, a district or the city, in their words.
    "emergency_broadcast": Template("emergency_broadcast", B + "【紧急通知】{title}：{body}",
                                    "[Beilei] URGENT NOTICE: {title}: {body}"),
}


class UnknownTemplate(KeyError):
    """No template of that name: a defect in a handler, never bad input."""


class MissingParameter(KeyError):
    """A template field without a value: a message must never go out with a blank in it."""


def template(name: str) -> Template:
    try:
        return TEMPLATES[name]
    except KeyError as exc:
        raise UnknownTemplate(name) from exc


def locale_of(choice: str | None) -> str:
    """Chinese unless the guardian chose English (R22)."""
    return choice if choice in LOCALES else DEFAULT_LOCALE


def values(name: str, locale: str, params: dict[str, str]) -> dict[str, str]:
    """The template's fields, each in the recipient's language: what an SMS provider template gets."""
    words = VOCAB[locale_of(locale)]
    out: dict[str, str] = {}
    for field in template(name).fields:
        if field not in params:
            raise MissingParameter(f"template {name!r} needs {field!r}")
        value = str(params[field])
        if value.startswith("@") and ":" in value:
            phrase, argument = value[1:].split(":", 1)
            out[field] = PHRASES[phrase](argument, locale_of(locale))
        else:
            out[field] = words.get(value, value) if value.startswith("@") else value
    return out


def render(name: str, locale: str, params: dict[str, str]) -> str:
    """The full text as the recipient reads it, in their language."""
    return template(name).text(locale_of(locale)).format(**values(name, locale, params))


def yuan(fen: int) -> str:
    """Money is integer fen everywhere; only a message shows yuan."""
    sign = "-" if fen < 0 else ""
    return f"{sign}{abs(fen) // 100}.{abs(fen) % 100:02d}"


def day(value: date) -> str:
    """A day as a parent reads it ("9月12日", "12 September")."""
    return f"@date:{value.isoformat()}"


def period(start: date, end: date) -> str:
    return f"@period:{start.isoformat()}~{end.isoformat()}"


# Compound surnames common enough to meet at a school gate; any other Chinese name starts with a
# one-character surname.
_COMPOUND_SURNAMES = frozenset({"欧阳", "司马", "诸葛", "上官", "东方", "皇甫", "尉迟", "公孙", "慕容", "令狐", "长孙",
                                "宇文", "司徒", "夏侯", "端木", "独孤", "南宫", "西门"})


def teacher(name: str | None) -> str:
    """A staff member as families address them: surname + 老师 ("张伟" -> 张老师, "Anna Smith" -> Smith老师);
    with no name known, just "老师" (issue 16: messages spoke in staff ids)."""
    name = (name or "").strip().removesuffix("老师").strip()
    if not name:
        return "@teacher"
    if name.isascii():
        return f"@teacher:{name.split()[-1]}"
    return f"@teacher:{name[:2] if name[:2] in _COMPOUND_SURNAMES and len(name) > 2 else name[0]}"


def page_for_people(url: str | None) -> str | None:
    """A link a parent can open: an https page, never a service's API (its /v1/ routes answer JSON) nor a
    plain-http internal address (issue 16, R23). None means the message carries no link."""
    if not url:
        return None
    parts = urlsplit(url)
    if parts.scheme != "https" or not parts.hostname or parts.path.startswith(("/v1/", "/api/")):
        return None
    return url


def portal_page(portal_url: str | None, path: str) -> str | None:
    """The portal's page for people at `path` (issue 18: /d/<disclosure> with its Verify button, /s/<school>),
    when the operator configured the portal's public address (PORTAL_URL); None otherwise. Configured by
    the operator, it is trusted as is: on a local platform it is a loopback http address."""
    if not portal_url:
        return None
    return portal_url.rstrip("/") + path
