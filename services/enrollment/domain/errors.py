"""The ways a command can fail, each with a reason per offending field for the person who sent it."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    """One broken rule: where (a path into the request), what is wrong, and which rule says so."""

    loc: tuple[str | int, ...]
    msg: str
    type: str = "rule"


class DomainError(ValueError):
    """A command broke a rule (HTTP 422). `problems` lists every reason, not only the first."""

    status = 422

    def __init__(self, message: str | None = None, *, problems: list[Problem] | None = None) -> None:
        self.problems = list(problems or [])
        if message is None:
            message = "; ".join(p.msg for p in self.problems) or "the request breaks a rule"
        if not self.problems:
            self.problems = [Problem(("body",), message)]
        super().__init__(message)


class Forbidden(DomainError):
    """The caller may not act on this record (HTTP 403): another guardian's child, another school (R27)."""

    status = 403


class NotFound(DomainError):
    """The record does not exist, or the caller may not know that it does (HTTP 404)."""

    status = 404


class Conflict(DomainError):
    """The record is in a state that contradicts the command, or the key was used for other content (HTTP 409)."""

    status = 409
