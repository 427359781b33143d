"""A case is the fold of its history: replaying the transitions through `next_state` gives the current case.

Used to check a stored case (and the tables derived from the log) against its history. A transition that
does not apply, or applies with other states than recorded, stops the replay with `ReplayError`; the rest of
the comparison (deadlines, levels, counters) is `differences` between the stored case and the replay.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from cases.calendar import WorkCalendar, default_calendar
from cases.lifecycle import LifecycleRules, Refusal, next_state
from cases.model import MERGE_FIELDS, Case, Transition


class ReplayError(ValueError):
    pass


def replay(
    initial: Case,
    transitions: Iterable[Transition],
    *,
    calendar: WorkCalendar | None = None,
    rules: LifecycleRules | None = None,
) -> Case:
    """Fold `transitions` (in seq order, starting right after `initial`) into the case they lead to."""
    cal = calendar or default_calendar()
    case = initial
    for recorded in transitions:
        if recorded.case_id != case.case_id:
            raise ReplayError(f"transition of case {recorded.case_id} in the history of {case.case_id}")
        if recorded.seq != case.seq + 1:
            raise ReplayError(f"case {case.case_id}: expected seq {case.seq + 1}, got {recorded.seq}")
        result = next_state(
            case, recorded.payload, actor=recorded.actor, at=recorded.at, calendar=cal, rules=rules
        )
        if isinstance(result, Refusal):
            where = f"case {case.case_id} seq {recorded.seq}"
            raise ReplayError(f"{where}: refused ({result.code}: {result.detail})")
        moved = (result.transition.from_state, result.transition.to_state)
        if moved != (recorded.from_state, recorded.to_state):
            raise ReplayError(
                f"case {case.case_id} seq {recorded.seq}: recorded {recorded.from_state}→{recorded.to_state},"
                f" replayed {moved[0]}→{moved[1]}"
            )
        case = result.case
    return case


def differences(
    stored: Case, replayed: Case, *, ignore: Iterable[str] = MERGE_FIELDS
) -> dict[str, tuple[Any, Any]]:
    """Fields where a stored case and its replay disagree (duplicates' fields left out by default)."""
    skip = set(ignore)
    ours, theirs = stored.model_dump(), replayed.model_dump()
    names = [name for name in ours if name not in skip]
    return {name: (ours[name], theirs[name]) for name in names if ours[name] != theirs[name]}
