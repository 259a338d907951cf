"""What the pages say, in Chinese (the default) and English: labels, amounts in yuan, weekdays, roles.
Pure functions; the templates call them through the `t` and `yuan` filters."""
from __future__ import annotations

from datetime import datetime

from shared.time import SCHOOL_TZ

LANGS = ("zh", "en")

# (DisclosurePublished field, zh, en): the figures of a disclosure (R21), in the order the page shows them.
FIGURES: tuple[tuple[str, str, str], ...] = (
    ("students_served", "服务学生数", "Students served"),
    ("fee_income_fen", "收费收入", "Fee income"),
    ("subsidy_income_fen", "财政补助收入", "Subsidy income"),
    ("waived_fen", "减免", "Fees waived"),
    ("refunded_fen", "退费", "Refunds"),
    ("payouts_fen", "劳务费和补助支出", "Staff labour fees and subsidies"),
    ("staff_remuneration_fen", "其他人员报酬", "Other staff remuneration"),
    ("extra_hours_operating_fen", "延时服务运行支出", "Extra-hours operating costs"),
    ("group_accident_insurance_fen", "团体意外险", "Group accident insurance"),
    ("balance_fen", "结余", "Balance"),
)

# (FeeSettled field, zh, en): a family's monthly statement (R17), as the parent's page shows it.
STATEMENT_FIGURES: tuple[tuple[str, str, str], ...] = (
    ("sessions_provided", "学校提供的课次", "Sessions provided"),
    ("sessions_attended", "孩子参加的课次", "Sessions attended"),
    ("extended_care_sessions", "延时托管课次", "Extended-care sessions"),
    ("charged_fen", "家长应付", "Parent's share charged"),
    ("waived_fen", "减免", "Waived"),
    ("paid_fen", "已付", "Paid"),
    ("refund_due_fen", "应退", "Refund due"),
    ("outstanding_fen", "尚欠", "Still owed"),
)

WORDS: dict[str, tuple[str, str]] = {
    "site": ("蓓蕾课后服务", "Beilei after-school services"),
    "schools": ("学校", "Schools"),
    "district": ("区", "District"),
    "all_districts": ("全部区", "All districts"),
    "filter": ("筛选", "Filter"),
    "programmes": ("课后服务项目", "Programmes"),
    "no_schools": ("还没有学校公布课后服务。", "No school has published a programme yet."),
    "term": ("学期", "Term"),
    "times": ("服务时间", "Times"),
    "extended_care": ("延时托管", "Extended care"),
    "until": ("至", "until"),
    "activities": ("活动", "Activities"),
    "capacity": ("名额", "Places"),
    "staff_count": ("服务人员", "Staff"),
    "fee_per_session": ("每次收费", "Fee per session"),
    "extended_fee": ("延时托管每次收费", "Extended care fee per session"),
    "safety": ("安全措施", "Safety measures"),
    "insurance": ("保险", "Insurance"),
    "insurer": ("承保公司", "Insurer"),
    "liability": ("校方责任险", "Liability policy"),
    "accident": ("意外险", "Accident policy"),
    "valid": ("有效期", "Valid"),
    "served": ("服务对象", "Who it serves"),
    "delivery": ("服务提供", "Who delivers it"),
    "applications": ("报名时间", "Applications"),
    "disclosures": ("收支公示", "Income and spending disclosures"),
    "no_disclosures": ("暂无收支公示。", "No disclosure yet."),
    "disclosure": ("收支公示", "Income and spending disclosure"),
    "period": ("期间", "Period"),
    "unit": ("单位：元", "Amounts in yuan (元)"),
    "verify": ("验证", "Verify"),
    "verify_button": ("验证这份公示", "Verify this disclosure"),
    "verify_intro": ("按下按钮，您的浏览器会自己取回账本的签名检查点和这份公示的包含证明并逐项核对，不需要信任本网站。",
                     "Press the button and your browser fetches the ledger's signed checkpoint and this "
                     "disclosure's inclusion proof and checks every figure itself: you need not trust this site."),
    "ledger_size": ("核算至账本第 {n} 条", "Computed over the first {n} ledger entries"),
    "school": ("学校", "School"),
    "sign_in": ("登录", "Sign in"),
    "sign_out": ("退出", "Sign out"),
    "signed_in_as": ("已登录：{who}（{role}）", "Signed in as {who} ({role})"),
    "role": ("身份", "Role"),
    "subject": ("用户编号", "User id"),
    "scope_school": ("学校编号（学校身份）", "School id (school role)"),
    "scope_district": ("区编号（区身份）", "District id (district role)"),
    "dev_signin": ("开发环境登录：为所选身份签发本地令牌。正式环境通过全市统一身份认证登录。",
                   "Development sign-in: mints a local token for the chosen role. Deployments sign in with "
                   "the city's identity provider."),
    "my_children": ("我的孩子今天", "My children today"),
    "no_children": ("您还没有已备案的孩子。", "You have no enrolled child yet."),
    "checked_in": ("已签到", "Checked in"),
    "not_checked_in": ("未签到", "Not checked in"),
    "collected": ("已由{name}（{relation}）接走", "Collected by {name} ({relation})"),
    "handed_over_by": ("交接老师：{name}", "Handed over by {name}"),
    "on_site": ("仍在校", "Still at school"),
    "guardian": ("监护人", "guardian"),
    "authorised_pickup": ("授权接送人", "authorised pickup"),
    "extended_minutes": ("延时托管 {n} 分钟", "{n} minutes of extended care"),
    "my_applications": ("我的报名", "My applications"),
    "no_applications": ("暂无报名。", "No application yet."),
    "status": ("状态", "Status"),
    "programme": ("项目", "Programme"),
    "student": ("学生", "Student"),
    "filing_times": ("从报名到备案的时间", "From application to district filing"),
    "filed_count": ("已备案", "Filed"),
    "median_hours": ("中位数（小时）", "Median (hours)"),
    "p90_hours": ("90% 以内（小时）", "90th percentile (hours)"),
    "waitlists": ("候补名单", "Waiting lists"),
    "taken": ("已占名额", "Taken"),
    "waiting": ("候补", "Waiting"),
    "open_anomalies": ("待处理的异常：{n} 条", "Open anomalies: {n}"),
    "ledger": ("账本", "Ledger"),
    "index": ("序号", "Index"),
    "type": ("类型", "Type"),
    "proof": ("证明", "Proof"),
    "next_page": ("下一页", "Next page"),
    "export": ("下载完整导出（离线核验）", "Download the full export (for the offline verifier)"),
    "show": ("查看", "Show"),
    "review": ("收费月调度 / 年报告", "Fee review, monthly / annual"),
    "review_period": ("期间（YYYY-MM 为月调度，YYYY 为年报告）", "Period (YYYY-MM monthly, YYYY annual)"),
    "totals": ("合计", "Totals"),
    "charged_fen": ("应收", "Charged"),
    "checkpoint_cited": ("依据检查点：大小 {n}，根 {root}", "Computed at checkpoint: size {n}, root {root}"),
    "consistency": ("检查点一致性", "Checkpoint consistency"),
    "consistency_intro": ("粘贴您早先保存的账本检查点。您的浏览器会核对它的签名，取回从它到最新检查点的一致性证明并"
                          "自己验证：账本只能在后面追加，之前的记录不能被改写。",
                          "Paste a ledger checkpoint you saved earlier. Your browser checks its signature, fetches the "
                          "consistency proof from it to the newest checkpoint and verifies it itself: the ledger may "
                          "only grow, and nothing before your checkpoint may have been rewritten."),
    "saved_checkpoint": ("您保存的检查点", "Your saved checkpoint"),
    "check_button": ("核对", "Check"),
    "withdraw": ("撤回报名", "Withdraw"),
    "withdrawn_done": ("已撤回报名。", "Your application is withdrawn."),
    "report_title": ("反映被强制报名", "Report pressure to enroll"),
    "report_intro": ("课后服务自愿参加。如果有人强迫或变相强迫您报名，请在这里反映。反映是匿名的：不会记录您或孩子是谁。",
                     "After-school services are voluntary. If anyone pressed you to enroll, say so here. The report is "
                     "anonymous: it records neither you nor your child."),
    "what_happened": ("发生了什么", "What happened"),
    "happened_on": ("日期", "Date"),
    "send_report": ("匿名提交", "Send anonymously"),
    "reported_done": ("已收到您的反映，区教育局会看到它。", "Your report is received; the district will read it."),
    "report_refused": ("反映没有被接受，请检查填写的内容。", "The report was not accepted; please check what you entered."),
    "the_day": ("{day} 的课后服务", "After-school service on {day}"),
    "present": ("到校学生", "Present"),
    "exercise_avg": ("平均锻炼（分钟，目标 30）", "Exercise, mean minutes (goal 30)"),
    "exercise_30": ("锻炼达 30 分钟", "Reached 30 minutes"),
    "extended_use": ("延时托管 / 已接走", "Extended care / collected"),
    "dashboard": ("课后服务调度", "Bureau dashboard"),
    "participation": ("参与率", "Participation"),
    "enrolled": ("参加人数", "Enrolled"),
    "eligible": ("在校学生", "Eligible"),
    "rate": ("参与率", "Rate"),
    "reference": ("全市参考值 78.5%", "City reference 78.5%"),
    "download_csv": ("下载 CSV", "Download CSV"),
    "city": ("全市", "City"),
    "auditor": ("审计", "Audit"),
    "anomalies": ("异常", "Anomalies"),
    "no_anomalies": ("暂无异常。", "No anomaly."),
    "severity": ("级别", "Severity"),
    "check": ("检查项", "Check"),
    "amount": ("金额", "Amount"),
    "detail": ("说明", "Detail"),
    "evidence": ("证据", "Evidence"),
    "ledger_entries": ("账本条目", "Ledger entries"),
    "entry_proof": ("条目 {i} 的包含证明", "Inclusion proof of entry {i}"),
    "checkpoint": ("检查点", "Checkpoint"),
    "newest_checkpoint": ("最新检查点：大小 {n}", "Newest checkpoint: size {n}"),
    "not_found": ("找不到这个页面。", "This page does not exist."),
    "forbidden": ("这个页面需要登录相应身份。", "This page needs you signed in with the right role."),
    "upstream": ("数据暂时无法取得，请稍后再试。", "The figures cannot be fetched just now; please try again shortly."),
    "my_statements": ("我的账单和收据", "My statements and receipts"),
    "no_statements": ("暂无账单。", "No statement yet."),
    "statements_intro": ("每月按实际提供的课次结算。按“验证收据”，您的浏览器会取回这份账单在账本中的收据并自己核对：账本和见证人的签名、"
                         "包含证明，以及收据能打开账本记录里您家的个人信息承诺。",
                         "Each month is settled on the sessions actually provided. Press Verify receipt and your browser "
                         "fetches this statement's receipt from the ledger and checks it itself: the ledger's and the "
                         "witnesses' signatures, the inclusion proof, and that the receipt opens the entry's commitments "
                         "to your family's personal fields."),
    "statement_of": ("{period} · {name}", "{period} · {name}"),
    "hardship_free": ("困难家庭学生免费，费用由政府承担。", "Served free as a hardship student: the government pays."),
    "verify_receipt": ("验证收据", "Verify receipt"),
    "sessions": ("{n} 次", "{n}"),
    "my_messages": ("我收到的消息", "Messages I received"),
    "messages_and_settings": ("消息和提醒设置", "Messages and settings"),
    "messages_intro": ("近 30 天发给您的短信和应用推送：关于什么、哪个孩子、怎么发的。",
                       "The text messages and app notifications sent to you in the last 30 days: what about, which "
                       "child, and how."),
    "messages_caption": ("近 30 天的消息，最新的在前", "The last 30 days, newest first"),
    "no_messages": ("近 30 天没有发给您的消息。", "No message was sent to you in the last 30 days."),
    "sent_at": ("发送时间", "Sent"),
    "about": ("内容", "About"),
    "message_words": ("消息原文", "What it said"),
    "message_words_unavailable": ("暂时取不到消息原文，稍后再看。", "The words of the messages cannot be fetched just now; "
                                  "try again later."),
    "channel": ("方式", "Channel"),
    "preferences": ("提醒设置", "Notification settings"),
    "channels": ("接收方式", "How to reach me"),
    "channels_push_then_sms": ("先应用推送，推送不到再发短信", "App notification, SMS if it does not arrive"),
    "channels_sms_only": ("只发短信", "SMS only"),
    "channels_push_only": ("只用应用推送（安全消息仍会发短信）", "App notification only (safety messages still by SMS)"),
    "message_language": ("消息语言", "Language of messages"),
    "locale_registered": ("按报名时登记的语言", "As registered"),
    "quiet_hours": ("免打扰时段（安全消息除外）", "Quiet hours (safety messages still come)"),
    "quiet_from": ("开始", "From"),
    "quiet_to": ("结束", "To"),
    "quiet_hint": ("两项都留空表示不设免打扰。结束早于开始表示跨夜。", "Leave both empty for none; an end before the start "
                   "runs overnight."),
    "save_preferences": ("保存设置", "Save settings"),
    "preferences_saved": ("设置已保存，之后的消息按新设置发送。", "Saved: messages from now on follow these settings."),
    "preferences_refused": ("设置没有被接受，请检查填写的内容。", "The settings were not accepted; please check what you "
                            "entered."),
    "pickup_persons": ("接送人", "Pickup persons"),
    "pickups_intro": ("除监护人外，您可以授权祖父母、亲戚或邻居在某日之前接孩子。学校在门口核对姓名；您随时可以撤销。",
                      "Besides the guardians, you may authorise a grandparent, relative or neighbour to collect your "
                      "child until a day. The school checks the name at the gate; you may revoke them at any time."),
    "pickups_caption": ("现在可以接孩子的人", "Who may collect the child now"),
    "no_pickups": ("还没有授权接送人。", "No pickup person yet."),
    "relation": ("关系", "Relation"),
    "phone": ("手机号", "Mobile"),
    "valid_until": ("有效至", "Valid until"),
    "revoke": ("撤销", "Revoke"),
    "add_pickup": ("授权一位接送人", "Authorise a pickup person"),
    "pickup_name": ("姓名（在校门核对）", "Name (checked at the gate)"),
    "relation_hint": ("例如：祖父、外婆、邻居", "For example: grandfather, aunt, neighbour"),
    "authorise": ("授权", "Authorise"),
    "pickup_added": ("已授权，学校从现在起认可这位接送人。", "Authorised: the school accepts them from now on."),
    "pickup_revoked": ("已撤销，学校从现在起不再让这位接送人接孩子。", "Revoked: the school no longer lets them collect the "
                       "child."),
    "pickup_refused": ("授权没有被接受，请检查填写的内容（手机号、日期）。", "Not accepted; please check what you entered "
                       "(mobile number, date)."),
    "signin_failed": ("登录没有完成，请重新登录。", "Sign-in did not complete; please sign in again."),
    "back_to_me": ("返回我的孩子", "Back to my children"),
    "language": ("English", "中文"),
    "main": ("跳到正文", "Skip to content"),
}

# What a message sent to a guardian was about (shared/contracts/notification.py MessageKind), and how.
KINDS = {"check_in": ("签到", "checked in"), "pickup": ("已接走", "collected"), "absence": ("缺勤", "absent"),
         "extended_care": ("延时托管", "extended care"),
         "extended_care_escalated": ("延时托管后仍未接走", "not collected after extended care"),
         "unauthorised_pickup": ("未授权的人来接", "someone not authorised came to collect"),
         "application_submitted": ("报名已提交", "application submitted"),
         "application_approved": ("学校同意报名", "application approved"),
         "application_rejected": ("报名未通过", "application not accepted"), "enrollment_filed": ("已备案", "filed"),
         "enrollment_withdrawn": ("已撤回报名", "withdrawn"), "fee_due": ("缴费提醒", "fee due"),
         "payment_received": ("收到付款", "payment received"), "fee_waived": ("费用减免", "fee waived"),
         "refund_issued": ("已退费", "refund issued"), "programme_disclosure": ("课后服务公示", "programme notice"),
         "finance_disclosure": ("收支公示", "income and spending disclosure"),
         "anomaly_alert": ("异常提醒", "anomaly alert"), "emergency_broadcast": ("紧急通知", "emergency notice")}
CHANNELS = {"sms": ("短信", "SMS"), "push": ("应用推送", "app notification")}

STATUSES = {"submitted": ("已提交", "submitted"), "waitlisted": ("候补中", "on the waiting list"),
            "approved": ("学校已同意", "approved by the school"), "reported": ("已报区备案", "reported to the district"),
            "filed": ("已备案", "filed"), "rejected": ("未通过", "not accepted"), "withdrawn": ("已撤回", "withdrawn")}

ROLE_NAMES = {"guardian": ("家长", "parent"), "school": ("学校", "school"), "district": ("区教育局", "district"),
              "city": ("市教育局", "city bureau"), "auditor": ("审计", "auditor")}
WEEKDAYS = {"mon": ("周一", "Mon"), "tue": ("周二", "Tue"), "wed": ("周三", "Wed"), "thu": ("周四", "Thu"),
            "fri": ("周五", "Fri"), "sat": ("周六", "Sat"), "sun": ("周日", "Sun")}


def lang_of(requested: str | None) -> str:
    return "en" if requested == "en" else "zh"


def word(key: str, lang: str, **values: object) -> str:
    zh, en = WORDS[key]
    text = en if lang == "en" else zh
    return text.format(**values) if values else text


def _named(table: dict[str, tuple[str, str]], key: str, lang: str) -> str:
    zh, en = table.get(key, (key, key))
    return en if lang == "en" else zh


def role_name(role: str, lang: str) -> str:
    return _named(ROLE_NAMES, role, lang)


def kind_name(kind: str, lang: str) -> str:
    return _named(KINDS, kind, lang)


def channel_name(channel: str, lang: str) -> str:
    return _named(CHANNELS, channel, lang)


def status_name(status: str, lang: str) -> str:
    return _named(STATUSES, status, lang)


def weekdays(days: list[str], lang: str) -> str:
    return ("、" if lang == "zh" else ", ").join(WEEKDAYS.get(d, (d, d))[lang == "en"] for d in days)


def figure_label(name: str, lang: str) -> str:
    """The words of a disclosure figure (FIGURES), or the field's own name."""
    for field, zh, en in FIGURES:
        if field == name:
            return en if lang == "en" else zh
    return name


def yuan(fen: int) -> str:
    """18,360,000 fen -> "183,600.00 元" (what the browser verifier reads back as data-fen)."""
    sign = "-" if fen < 0 else ""
    whole, cents = divmod(abs(fen), 100)
    return f"{sign}{whole:,}.{cents:02d} 元"


def figure(name: str, value: int, lang: str) -> str:
    if name.endswith("_fen"):
        return yuan(value)
    return f"{value:,} 人" if lang == "zh" else f"{value:,}"


def statement_figure(name: str, value: int, lang: str) -> str:
    """A statement's figure: an amount in yuan, or a count of sessions."""
    return yuan(value) if name.endswith("_fen") else word("sessions", lang, n=value)


def local_time(at: datetime | str | None) -> str:
    if at is None:
        return ""
    if isinstance(at, str):
        at = datetime.fromisoformat(at)
    return at.astimezone(SCHOOL_TZ).strftime("%H:%M")


def local_datetime(at: datetime | None) -> str:
    return "" if at is None else at.astimezone(SCHOOL_TZ).strftime("%m-%d %H:%M")


def percent(rate: float | None) -> str:
    return "—" if rate is None else f"{rate * 100:.1f}%"
