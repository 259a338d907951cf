"""Guardians' contact rules: what a valid mainland mobile number is."""
from __future__ import annotations

import re

from services.enrollment.domain.errors import DomainError, Problem

_MOBILE = re.compile(r"^(?:\+?86)?(1[3-9]\d{9})$")


def normalise_mobile(phone: str) -> str:
    """Mainland mobile numbers, with or without +86, spaces or dashes, become 11 digits."""
    digits = re.sub(r"[\s-]", "", phone)
    match = _MOBILE.match(digits)
    if not match:
        raise DomainError(problems=[Problem(("body", "phone"), "phone must be a mainland mobile number "
                                            "(11 digits starting with 1)", "value_error")])
    return match.group(1)
