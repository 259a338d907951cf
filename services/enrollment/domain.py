"""Enrollment's pure rules (no I/O): who may apply for whom, and what a valid contact is."""
from __future__ import annotations

import re
from dataclasses import dataclass


class DomainError(ValueError):
    """A command broke a rule; the message says which, for the person who sent it."""


_MOBILE = re.compile(r"^(?:\+?86)?(1[3-9]\d{9})$")


def normalise_mobile(phone: str) -> str:
    """Mainland mobile numbers, with or without +86, spaces or dashes, become 11 digits."""
    digits = re.sub(r"[\s-]", "", phone)
    match = _MOBILE.match(digits)
    if not match:
        raise DomainError("phone must be a mainland mobile number (11 digits starting with 1)")
    return match.group(1)


@dataclass(frozen=True)
class GuardianFacts:
    guardian_id: str
    student_ids: tuple[str, ...]
    consent: bool


def check_application(guardian: GuardianFacts | None, *, student_id: str, consent: bool, on_behalf: bool) -> None:
    """R1: only a guardian's own, consented application enrols a student."""
    if guardian is None:
        raise DomainError("guardian is not registered")
    if student_id not in guardian.student_ids:
        raise DomainError("a guardian may apply only for their own child (R1)")
    if not consent:
        raise DomainError("the guardian's consent is required to apply (R1)")
