"""Every event that names a student or guardian is placed: news the family must hear, or not and why
(issue 16, R22); so a new event about a child cannot be published without deciding whether families hear it."""
from __future__ import annotations

from shared.contracts.audience import FAMILY_FACING, NOT_FAMILY_FACING
from shared.contracts.registry import EVENT_TYPES

NAMES = {name for name, _ in EVENT_TYPES}


def test_every_event_that_names_a_student_or_guardian_is_placed_for_families() -> None:
    naming = {name for (name, _), cls in EVENT_TYPES.items()
              if {"student_id", "guardian_id"} & set(cls.model_fields)}
    assert sorted(naming - FAMILY_FACING - set(NOT_FAMILY_FACING)) == []


def test_the_lists_name_published_events_and_none_twice() -> None:
    assert sorted((FAMILY_FACING | set(NOT_FAMILY_FACING)) - NAMES) == []
    assert sorted(FAMILY_FACING & set(NOT_FAMILY_FACING)) == []
