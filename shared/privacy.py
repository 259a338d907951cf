"""Sealing and masking of guardians' contact data; the only place that sees a phone number in the clear."""
from __future__ import annotations

import re

from cryptography.fernet import Fernet, InvalidToken

_PHONE = re.compile(r"(?<!\d)(\+?86[- ]?)?(1[3-9]\d)(\d{4})(\d{4})(?!\d)")


def mask_phone(phone: str) -> str:
    """138****5678: enough for a guardian to recognise their number, useless to anyone else."""
    digits = re.sub(r"\D", "", phone)
    if len(digits) < 7:
        return "*" * len(digits)
    return f"{digits[-11:-8] if len(digits) >= 11 else digits[:3]}****{digits[-4:]}"


def mask_phones_in(text: str) -> str:
    """Replace every mainland mobile number in free text (logs, errors) by its masked form."""
    return _PHONE.sub(lambda m: f"{m.group(2)}****{m.group(4)}", text)


class Sealer:
    """Symmetric sealing with a key shared by enrollment (which collects contacts) and notification."""

    def __init__(self, key: str) -> None:
        self._fernet = Fernet(key.encode())

    def seal(self, plain: str) -> str:
        return self._fernet.encrypt(plain.encode()).decode()

    def unseal(self, sealed: str) -> str:
        try:
            return self._fernet.decrypt(sealed.encode()).decode()
        except InvalidToken as exc:
            raise ValueError("sealed contact cannot be opened with this key") from exc
