"""Value types shared by the enrollment rules and the HTTP models: ids, free text, local times, instants."""
from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated

from pydantic import AfterValidator, AwareDatetime, StringConstraints

from shared.contracts.common import NoPersonalNumber

# Identifiers are codes from school and bureau systems: short, printable, no spaces.
Id = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$")]


# Control characters and lone surrogates (which no database encoding can store).
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\ud800-\udfff]")


def _printable(value: str) -> str:
    # PostgreSQL text cannot hold NUL, and control characters in names only hide things from people.
    if _CONTROL.search(value):
        raise ValueError("control characters are not allowed")
    return value


Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200), AfterValidator(_printable)]
# A person's name (staff, student, guardian, pickup person): no phone or ID number in it (issue 15).
PersonName = Annotated[Text, NoPersonalNumber]
LongText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000), AfterValidator(_printable)]
LocalTime = Annotated[str, StringConstraints(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$")]


def _sane_instant(value: datetime) -> datetime:
    # Bounded so that every instant converts to UTC and fits the database; nothing here is older or later.
    if not 2000 <= value.year <= 2100:
        raise ValueError("must be between the years 2000 and 2100")
    return value.astimezone(UTC)


Instant = Annotated[AwareDatetime, AfterValidator(_sane_instant)]
