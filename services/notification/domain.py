"""Notification's pure rules: templates per locale and who may be messaged. No I/O."""
from __future__ import annotations

from dataclasses import dataclass

TEMPLATES: dict[str, dict[str, str]] = {
    "application_submitted": {
        "zh-CN": "【蓓蕾课后服务】您已为{student_name}提交课后服务申请（{programme_id}），学校审核后会通知您。",
        "en": "[Beilei] Your after-school application for {student_name} ({programme_id}) was received. "
        "The school will tell you its decision.",
    },
}


class UnknownTemplate(KeyError):
    pass


def render(template: str, locale: str, params: dict[str, str]) -> str:
    """Chinese is the default; a guardian who chose English gets English (R22)."""
    try:
        texts = TEMPLATES[template]
    except KeyError as exc:
        raise UnknownTemplate(template) from exc
    return texts.get(locale, texts["zh-CN"]).format(**params)


@dataclass(frozen=True)
class Contact:
    guardian_id: str
    locale: str
    phone_masked: str
    consent: bool


def delivery_status(contact: Contact | None) -> str:
    """What happens to a message now: sent, held until the contact arrives, or not sent (no consent)."""
    if contact is None:
        return "awaiting_contact"
    if not contact.consent:
        return "suppressed_no_consent"
    return "sent"
