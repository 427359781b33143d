"""What a case's history rows add to the view's counts (indicators.ledger), from rows made by the real
case work (stream.casework): counted once, on the right day, at the right areas and departments."""

from __future__ import annotations

import uuid
from collections import Counter
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from cases.calendar import default_calendar
from cases.model import Case
from indicators.ledger import Cell, advance
from indicators.measures import Measure as M
from stream.casework import apply_commands, open_command_id
from stream.events import AreaCodes, CaseCommand, CaseOpening

CAL = default_calendar()
SH = ZoneInfo("Asia/Shanghai")
T0 = datetime(2026, 3, 10, 9, 0, tzinfo=SH)  # a Tuesday morning
AREA = AreaCodes(
    city="210200000000",
    district="210202000000",
    township="210202001000",
    community="210202001001",
    grid="210202001001001",
)
LEAD, OTHER, HELPER = "210202000000:urban_management", "210202000000:housing", "210202000000:water"
CODES = [AREA.city, AREA.district, AREA.township, AREA.community, AREA.grid]


class Driven:
    """A case driven by commands through the real case work, keeping every history row."""

    def __init__(self, observed: datetime = T0, helpers: tuple[str, ...] = ()) -> None:
        self.case_id = uuid.uuid4()
        self.case: Case | None = None
        self.rows: list[dict[str, Any]] = []
        self.at = T0
        report = uuid.uuid4()
        opening = CaseOpening(
            report_id=report, reporter_id="wg1", category="10106", area=AREA, department_code=LEAD,
            helper_codes=helpers, level="district", deadline_hours=8, observed_at=observed,
        )  # fmt: skip
        command_id = open_command_id(self.case_id, report)
        self._send(
            CaseCommand(
                command_id=command_id,
                case_id=self.case_id,
                kind="open",
                at=T0,
                actor="router",
                opening=opening,
            )
        )

    def _send(self, command: CaseCommand) -> None:
        loaded = {self.case_id: self.case} if self.case else {}
        out = apply_commands([command], loaded, {}, frozenset(), CAL, 0.8)
        assert all(r.outcome == "applied" for r in out.results), out.results
        self.case = out.cases.get(self.case_id, self.case)
        self.rows += out.history

    def act(self, action: str, after: timedelta = timedelta(hours=1), **fields: object) -> Driven:
        self.at += after
        command = CaseCommand(
            command_id=uuid.uuid4(), case_id=self.case_id, kind="act", at=self.at, actor="dept:test",
            action={"action": action, **fields},
        )  # fmt: skip
        self._send(command)
        return self


def total(change: Counter[Cell], measure: str, code: str = AREA.city) -> int:
    """A daily measure's change at one area."""
    return sum(n for c, n in change.items() if c.measure == measure and c.area_code == code and c.day)


def now_in(change: Counter[Cell], state: str) -> int:
    """The change of the city's count of cases in `state` (a current count: no day)."""
    return sum(n for c, n in change.items() if c.measure == state and c.area_code == AREA.city and not c.day)


def test_a_new_routed_case_is_registered_on_the_observed_day_at_all_five_levels():
    late = T0 - timedelta(days=3)  # uploaded from an offline phone three days after it was seen
    mark, change = advance(None, Driven(observed=late).rows, CAL)
    assert mark is not None
    registered = {c for c in change if c.measure == M.REGISTERED}
    assert {c.area_code for c in registered} == set(CODES)
    assert {c.day for c in registered} == {date(2026, 3, 7)} and {c.department for c in registered} == {LEAD}
    assert total(change, M.DISPATCHED) == 1 and now_in(change, "dispatched") == 1
    assert {c.day for c in change if c.measure == M.DISPATCHED and c.day} == {date(2026, 3, 10)}
    assert total(change, M.DUE) == 1 and total(change, M.COHANDLED) == 0


def test_the_closed_loop_counts_once_each_with_rework_and_on_time_closure():
    case = Driven(helpers=(HELPER,)).act("accept").act("handle", note="修好")
    case.act("verify", passed=False, note="仍破损").act("handle", note="再修").act(
        "verify", passed=True, note="通过"
    )
    mark, change = advance(None, case.rows, CAL)
    assert mark is not None and mark.state == "closed" and mark.on_time
    for measure in (M.REGISTERED, M.COHANDLED, M.HANDLED, M.REWORKED, M.CLOSED, M.DUE, M.DUE_CLOSED):
        assert total(change, measure) == 1, measure
    assert total(change, M.DUE_ON_TIME) == 1 and total(change, "closed") == 1
    # 09:00 to 14:00 is 3.5 working hours: 12:00–13:30 is lunch.
    assert total(change, M.CLOSE_SECONDS) == 3.5 * 3600
    assert not any(c.measure in ("dispatched", "in_progress") and c.day is None for c in change)


def test_counting_in_pieces_equals_counting_at_once_and_a_replayed_row_adds_nothing():
    case = Driven().act("accept").act("postpone", hours=8, reason="协调").act("approve")
    case.act("handle", note="好")
    whole_mark, whole = advance(None, case.rows, CAL)
    mark, summed = None, Counter[Cell]()
    for cut in (1, 3, 3, len(case.rows)):  # the 3 twice: a batch read again changes nothing
        mark, change = advance(mark, case.rows[:cut], CAL)
        summed.update(change)
    assert mark == whole_mark
    assert Counter({c: n for c, n in summed.items() if n}) == whole
    assert total(whole, M.POSTPONED) == 1


def test_a_late_handling_closes_the_case_but_not_on_time():
    case = Driven().act("accept").act("handle", after=timedelta(days=3), note="迟了")
    case.act("verify", passed=True, note="通过")
    _, change = advance(None, case.rows, CAL)
    assert total(change, M.DUE_CLOSED) == 1 and total(change, M.DUE_ON_TIME) == 0


def test_a_suspended_case_stays_due_on_its_day_as_suspended_and_moves_when_it_resumes():
    case = Driven().act("accept").act("suspend", reason="等待认定").act("approve")
    mark, change = advance(None, case.rows, CAL)
    assert mark is not None and mark.state == "suspended"
    due_day = {c.day for c in change if c.measure == M.DUE}
    assert due_day == {date(2026, 3, 11)} and total(change, M.DUE_SUSPENDED) == 1
    case.act("resume", after=timedelta(days=7))
    _, moved = advance(mark, case.rows, CAL)
    assert total(moved, M.DUE_SUSPENDED) == -1
    assert {(c.day, n) for c, n in moved.items() if c.measure == M.DUE and c.area_code == AREA.city} == {
        (date(2026, 3, 11), -1),
        (date(2026, 3, 18), 1),
    }


def test_a_voided_case_leaves_the_due_cohort_and_its_state_moves():
    case = Driven()
    mark, _ = advance(None, case.rows, CAL)
    case.act("void", reason="重复")
    _, change = advance(mark, case.rows, CAL)
    assert total(change, M.DUE) == -1 and now_in(change, "dispatched") == -1 and now_in(change, "voided") == 1


def test_an_escalation_counts_into_the_level_above_and_out_of_the_level_below_only():
    case = Driven().act("escalate", reason="需市级协调")
    _, change = advance(None, case.rows, CAL)
    flows = {(c.area_code, c.measure) for c in change if c.measure in (M.ESCALATED_IN, M.ESCALATED_OUT)}
    assert flows == {(AREA.city, M.ESCALATED_IN), (AREA.district, M.ESCALATED_OUT)}


def test_a_return_counts_under_the_department_that_returned_it_and_a_dispatch_down_at_the_holding_level():
    case = Driven().act("return", reason="不归我们").act("dispatch", department_code=OTHER)
    _, change = advance(None, case.rows, CAL)
    assert {c.department for c in change if c.measure == M.RETURNED} == {LEAD}
    assert total(change, M.RETURNED, AREA.grid) == 1
    down = {(c.area_code, c.department) for c in change if c.measure == M.DISPATCHED_DOWN}
    assert down == {(AREA.district, OTHER)}
    assert total(change, M.DISPATCHED) == 1  # dispatched once: at the opening
