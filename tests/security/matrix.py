"""The authorisation matrix's rows (issue 15, R27): which principals a check sends, the concrete request
for each operation of an OpenAPI document, and the expectations, so tests on the running platform and
in-process share them. An answer is *allowed* when it is neither 401 nor 403 (a 404 for an object that
does not exist, or 422 for a body the probe did not fill, still got past authorisation)."""
from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from tests.tokens import bearer

OWN_SCHOOL, OTHER_SCHOOL = "sch-mx-own", "sch-mx-other"
OWN_DISTRICT, OTHER_DISTRICT = "dst-mx-own", "dst-mx-other"

# Who asks: name -> headers. "forged" is a well-formed token signed by a key that is not the issuer's.
PRINCIPALS: dict[str, dict[str, str]] = {
    "nobody": {},
    "forged": {"Authorization": "Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4Iiwicm9sZSI6ImNpdHkifQ.c2lnbmF0dXJl"},
    "guardian": bearer("gdn-mx", "guardian"),
    "school": bearer("stf-mx-own", "school", school_id=OWN_SCHOOL),
    "other school": bearer("stf-mx-other", "school", school_id=OTHER_SCHOOL),
    "school system": bearer("sys-mx-own", "school_system", school_id=OWN_SCHOOL),
    "other school system": bearer("sys-mx-other", "school_system", school_id=OTHER_SCHOOL),
    "district": bearer("off-mx-own", "district", district_id=OWN_DISTRICT),
    "other district": bearer("off-mx-other", "district", district_id=OTHER_DISTRICT),
    "city": bearer("city-mx", "city"),
    "auditor": bearer("aud-mx", "auditor"),
}
ROLES = tuple(p for p in PRINCIPALS if p not in ("nobody", "forged"))
_PARAM = re.compile(r"\{([^}]+)\}")


@dataclass(frozen=True)
class Operation:
    service: str
    method: str
    template: str
    secured: bool

    @property
    def label(self) -> str:
        return f"{self.service} {self.method.upper()} {self.template}"

    def path(self, school_id: str = OWN_SCHOOL) -> str:
        """The template with its parameters filled: the school the probe aims at, a district, and for
        anything else a value of the right kind that names nothing."""
        def fill(m: re.Match[str]) -> str:
            name = m[1]
            if name == "school_id":
                return school_id
            if name == "district_id":
                return OWN_DISTRICT
            return "0" if name in ("index", "size") else f"mx-{name}"
        return _PARAM.sub(fill, self.template)


def operations(service: str, document: dict) -> Iterator[Operation]:
    for template, item in document["paths"].items():
        for method, operation in item.items():
            yield Operation(service, method, template, operation.get("security") != [])


def allowed(status: int) -> bool:
    return status not in (401, 403)
