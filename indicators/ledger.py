"""What one case contributes to the view's counts, folded from its history rows (seq 0 is the opening).

A case's contribution is a set of cells (area, day, category, department, measure) → n:
- event cells, emitted once by the row that causes them (`fold`): the once-per-case measures and the flows;
- state cells, a function of where the case stands (`state_cells`): its current state (day None), and its
  place in the due cohort.

The stream keeps the sums by folding each new row into the case's stored `CaseMark` (the mark says up to
which seq the case is counted, so a replayed row is never counted twice) and adding the event cells of the
new rows plus the change of the state cells; the check folds every case's whole history from nothing and
must find the same sums. Both call `advance`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from datetime import date, datetime
from typing import Any, NamedTuple

from pydantic import BaseModel, ConfigDict

from cases.calendar import WorkCalendar, seconds_between
from cases.states import ActionName, CaseState
from geo.schemas import LEVEL_ORDER
from indicators.measures import Measure

OPENING = "open"  # the action name of history row 0 (stream.casework.OPENING)
NO_DEPARTMENT = ""  # a case without a lead (triage, returned) is counted under no department


class Cell(NamedTuple):
    area_code: str
    day: date | None  # None: the current state (measure is then the state's name)
    category: str
    department: str
    measure: str


class CaseMark(BaseModel):
    """The fold's state: enough of the case, as of history row `seq`, to count what comes next."""

    model_config = ConfigDict(frozen=True)

    seq: int
    category: str
    areas: dict[str, str]  # level → code, for the levels the case has a code at
    opened_at: datetime
    state: CaseState
    level: str
    lead: str = NO_DEPARTMENT
    due_day: date | None = None
    handled_at: datetime | None = None
    on_time: bool = False
    # Once-per-case measures: the day each happened and the department it is counted under.
    firsts: dict[Measure, tuple[date, str]] = {}


def _time(value: Any) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(str(value))


Counted = list[tuple[Cell, int]]


def _opened(row: Mapping[str, Any], calendar: WorkCalendar) -> tuple[CaseMark, Counted]:
    opening = row["payload"]
    area = opening.get("area") or {}
    areas = {level.value: area[level.value] for level in LEVEL_ORDER if area.get(level.value)}
    at = _time(row["at"])
    lead = row["department_code"] or NO_DEPARTMENT
    firsts = {Measure.REGISTERED: (calendar.local_date(_time(opening["observed_at"])), lead)}
    if row["to_state"] == CaseState.DISPATCHED:
        firsts[Measure.DISPATCHED] = (calendar.local_date(at), lead)
    if opening.get("helper_codes"):
        firsts[Measure.COHANDLED] = firsts[Measure.REGISTERED]
    deadline = row["deadline_at"]
    mark = CaseMark(
        seq=row["seq"],
        category=opening["category"],
        areas=areas,
        opened_at=at,
        state=CaseState(row["to_state"]),
        level=row["level"],
        lead=lead,
        due_day=calendar.local_date(_time(deadline)) if deadline else None,
        firsts=firsts,
    )
    return mark, [(Cell("", day, mark.category, dept, m), 1) for m, (day, dept) in firsts.items()]


def _spread(mark: CaseMark, cells: Iterable[tuple[Cell, int]]) -> Counter[Cell]:
    """Each cell at every area of the case, unless it names its area (a flow counted at one level)."""
    out: Counter[Cell] = Counter()
    for cell, n in cells:
        codes = [cell.area_code] if cell.area_code else mark.areas.values()
        for code in codes:
            out[cell._replace(area_code=code)] += n
    return out


def fold(
    mark: CaseMark | None, row: Mapping[str, Any], calendar: WorkCalendar
) -> tuple[CaseMark, Counter[Cell]]:
    """The mark after `row`, and the event cells the row causes (spread to the case's areas)."""
    if mark is None:
        if row["seq"] != 0 or row["action"] != OPENING:
            raise ValueError(f"case {row.get('case_id')}: counting must start at the opening (seq 0)")
        opened, first = _opened(row, calendar)
        return opened, _spread(opened, first)
    if row["seq"] != mark.seq + 1:
        raise ValueError(f"case {row.get('case_id')}: row {row['seq']} does not follow {mark.seq}")
    at, action = _time(row["at"]), row["action"]
    day = calendar.local_date(at)
    to_state = CaseState(row["to_state"])
    lead = row["department_code"] or NO_DEPARTMENT
    firsts = dict(mark.firsts)
    cells: Counted = []

    def emit(measure: Measure, department: str = lead, n: int = 1, level: str | None = None) -> None:
        if level is None:
            cells.append((Cell("", day, mark.category, department, measure), n))
        elif level in mark.areas:  # a flow between levels counts at the area of that level only
            cells.append((Cell(mark.areas[level], day, mark.category, department, measure), n))

    def once(measure: Measure) -> None:
        if measure not in firsts:
            firsts[measure] = (day, lead)
            emit(measure)

    changes: dict[str, Any] = {"seq": row["seq"], "state": to_state, "level": row["level"], "lead": lead}
    deadline = _time(row["deadline_at"]) if row["deadline_at"] else None
    if deadline is not None:  # a suspension clears the deadline: the case stays due on the day it had
        changes["due_day"] = calendar.local_date(deadline)
    if action == ActionName.DISPATCH:
        once(Measure.DISPATCHED)
        emit(Measure.DISPATCHED_DOWN, level=row["level"])
    elif action == ActionName.HANDLE:
        once(Measure.HANDLED)
        changes["handled_at"] = at
    elif action == ActionName.VERIFY and to_state is CaseState.REWORK:
        once(Measure.REWORKED)
    elif action == ActionName.VERIFY and to_state is CaseState.CLOSED:
        once(Measure.CLOSED)
        emit(Measure.CLOSE_SECONDS, n=round(seconds_between(mark.opened_at, at, calendar, working=True)))
        # Judged as cases.timers.due_status judges it: the latest 处置完成 against the deadline.
        changes["on_time"] = mark.handled_at is None or deadline is None or mark.handled_at <= deadline
    elif action == ActionName.APPROVE and to_state is not CaseState.SUSPENDED:
        once(Measure.POSTPONED)  # an approval that does not suspend approves a postponement
    elif action == ActionName.ESCALATE:
        emit(Measure.ESCALATED_IN, level=row["level"])
        emit(Measure.ESCALATED_OUT, level=mark.level)
    elif action == ActionName.RETURN:
        emit(Measure.RETURNED, department=mark.lead)  # under the department that returned it
    new = mark.model_copy(update={**changes, "firsts": firsts})
    return new, _spread(new, cells)


_CLOSED = frozenset({CaseState.CLOSED, CaseState.EVALUATED})


def state_cells(mark: CaseMark | None) -> Counter[Cell]:
    """What the case contributes by where it stands: its state now, and its place in the due cohort."""
    if mark is None:
        return Counter()
    current = [Cell("", None, mark.category, mark.lead, mark.state.value)]
    if mark.due_day is not None and mark.state is not CaseState.VOIDED:
        cohort = [Measure.DUE]
        if mark.state is CaseState.SUSPENDED:
            cohort.append(Measure.DUE_SUSPENDED)
        if mark.state in _CLOSED:
            cohort.append(Measure.DUE_CLOSED)
            if mark.on_time:
                cohort.append(Measure.DUE_ON_TIME)
        current += [Cell("", mark.due_day, mark.category, mark.lead, m) for m in cohort]
    return _spread(mark, [(cell, 1) for cell in current])


def advance(
    mark: CaseMark | None, rows: Iterable[Mapping[str, Any]], calendar: WorkCalendar
) -> tuple[CaseMark | None, Counter[Cell]]:
    """Fold the rows past `mark.seq` (in seq order; earlier ones are already counted) into the mark.

    Returns the new mark and the change of the counts, negative where a state cell is left: the event cells
    of the new rows, plus the state cells of the new mark less those of the old.
    """
    change: Counter[Cell] = Counter()
    new = mark
    for row in sorted(rows, key=lambda r: int(r["seq"])):
        if new is not None and row["seq"] <= new.seq:
            continue
        new, cells = fold(new, row, calendar)
        change.update(cells)
    if new is mark:
        return mark, Counter()
    change.update(state_cells(new))
    change.subtract(state_cells(mark))
    return new, Counter({cell: n for cell, n in change.items() if n})
