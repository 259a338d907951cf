"""Sealing and masking of guardians' contact data and of personal numbers in free text; the only place that
sees a phone number in the clear. Knows nothing of services, brokers or HTTP."""
from __future__ import annotations

import re
from collections.abc import Callable

from cryptography.fernet import Fernet, InvalidToken

# A mainland mobile number, with or without +86, written whole or grouped 3-4-4 by spaces or dashes. It may sit
# inside a word ("stu-13812345678") but not inside a longer digit run (an order number, epoch millis) nor run on
# into letters ("app-15312349302f4b67", a hex id: masking it would hand the caller a wrong id).
_PHONE = re.compile(r"(?<!\d)(\+?86[- ]?)?(1[3-9]\d)[- ]?(\d{4})[- ]?(\d{4})(?![0-9A-Za-z])")
# A PRC resident ID number (GB 11643): a region code (first digit 1-8), a birth date 19xx/20xx with a real
# month and day, a sequence and a check character (digit or X). The check character is not verified: a
# mistyped number is still somebody's. The 15-digit first-generation form is deliberately not matched: those
# cards stopped being valid in 2013 (no pupil and almost no parent holds one), while 15-digit runs are common
# in what the platform does carry (compact timestamps such as 202612041015123, order and trace numbers).
_ID_NUMBER = re.compile(
    r"(?<!\d)([1-8]\d{2})\d{3}(?:19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])(\d{3}[\dXx])(?![\dXx])"
)


def mask_phone(phone: str) -> str:
    """138****5678: enough for a guardian to recognise their number, useless to anyone else."""
    digits = re.sub(r"\D", "", phone)
    if len(digits) < 7:
        return "*" * len(digits)
    return f"{digits[-11:-8] if len(digits) >= 11 else digits[:3]}****{digits[-4:]}"


# Full-width digits (and plus, X) read as their ASCII forms when matching, one character for one, so that
# "１３８１２３４５６７８" is found too; the masked form is written in ASCII.
_FOLD = str.maketrans("０１２３４５６７８９＋Ｘｘ－", "0123456789+Xx-")


# Event, message and trace ids are UUIDs and hashes are long hex runs (one sha256 digest in a few hundred
# holds eleven digits in a row): such a run is an identifier, never a phone number, and is left whole.
_IDENTIFIER = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}|[0-9a-fA-F]{32,}")


# Python's regex engine tries the full patterns at every digit, a few milliseconds per 100 kB of JSON full of
# UUIDs and timestamps; these patterns start with a literal, which it finds fast. Text in which none of them
# matches holds no phone or ID number, and the full pattern runs only on what one of them finds something in.
_DATE_TAIL = r"\d\d(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\d{3}[\dXx](?![\dXx])"
_QUICK = {
    _PHONE: (re.compile(r"1[3-9]\d[- ]?\d{4}[- ]?\d{4}(?!\d)"),),
    _ID_NUMBER: (re.compile("19" + _DATE_TAIL), re.compile("20" + _DATE_TAIL)),
}


def _matches(pattern: re.Pattern[str], folded: str) -> list[re.Match[str]]:
    if not any(quick.search(folded) for quick in _QUICK[pattern]):
        return []
    found = list(pattern.finditer(folded))
    if found:
        ids = [m.span() for m in _IDENTIFIER.finditer(folded)]
        found = [m for m in found if not any(a < m.end() and m.start() < b for a, b in ids)]
    return found


def _sub(pattern: re.Pattern[str], text: str, masked: Callable[[re.Match[str]], str]) -> str:
    folded = text.translate(_FOLD)
    out, last = [], 0
    for match in _matches(pattern, folded):
        out += [text[last:match.start()], masked(match)]
        last = match.end()
    return "".join(out) + text[last:] if out else text


def mask_phones_in(text: str) -> str:
    """Replace every mainland mobile number in free text (logs, errors) by its masked form."""
    return _sub(_PHONE, text, lambda m: f"{m.group(2)}****{m.group(4)}")


def mask_id_numbers_in(text: str) -> str:
    """110***********002X: the province and the last four, as on a printed receipt."""
    return _sub(_ID_NUMBER, text, lambda m: f"{m.group(1)}{'*' * 11}{m.group(2)}")


# A byte table for `_may_hold_personal_number`: every ASCII digit reads "0", a dash or space "-", anything else ".".
_SHAPE = bytes(ord("0") if chr(b).isdigit() and b < 128 else ord("-") if b in b"- " else ord(".") for b in range(256))
# Every phone and ID number holds one of these shapes: eleven digits in a row (an ID number has seventeen), or a
# phone grouped 3-4-4 with one or both separators. A UUID's groups of 8, 4 and 12 rarely make one.
_SHAPES = (b"0" * 11, b"000-" + b"0" * 8, b"0" * 7 + b"-0000", b"000-0000-0000")


def _may_hold_personal_number(text: str) -> bool:
    """False only if the text surely holds no phone or ID number to mask: a pass of C over the bytes finds
    the places shaped like one, and only those (a UUID's groups sometimes make the shape) are matched with the
    patterns, which over a whole 5 kB answer to a batch of 50 check-outs cost half a millisecond. Full-width
    digits, which the patterns fold, always say True."""
    data = text.encode("utf-8", "surrogatepass")
    if b"\xef\xbc" in data:  # U+FF00-FF3F: full-width digits, plus and letters
        return True
    shaped = data.translate(_SHAPE)
    for shape in _SHAPES:
        at = shaped.find(shape)
        while at >= 0:
            # Enough around the place for the +86 before it and for a UUID or hex digest it belongs to; a
            # window that cuts one short only makes this answer True more often, never False wrongly.
            near = data[max(0, at - _MARGIN):at + len(shape) + _MARGIN].decode("utf-8", "ignore")
            if contains_personal_number(near):
                return True
            at = shaped.find(shape, at + 1)
    return False


_MARGIN = 72  # bytes either side: longer than a UUID (36) and than the 64 hex digits of a sha256 digest


def redact(text: str) -> str:
    """Mask every mobile number and resident ID number in free text: the one redaction for rejection reasons,
    dead-letter records, HTTP error bodies and logs. Idempotent, and it never lengthens a phone or ID number."""
    if not _may_hold_personal_number(text):
        return text
    return mask_phones_in(mask_id_numbers_in(text))


def contains_personal_number(text: str) -> bool:
    """Whether free text carries a mobile or resident ID number (a person's name must not)."""
    folded = text.translate(_FOLD)
    return bool(_matches(_PHONE, folded) or _matches(_ID_NUMBER, folded))


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
