"""A case equals the replay of its history, for any sequence of actions and timers."""

from __future__ import annotations

from datetime import timedelta
from uuid import UUID

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cases.actions import DispatchAction, VerifyAction
from cases.lifecycle import Applied, next_state
from cases.model import Case, Transition, attach_report
from cases.replay import ReplayError, differences, replay
from cases.states import ActionName as A
from cases.states import CaseState
from cases.timers import run_timers

from .builders import CAL, LEAD, SAMPLE_ACTIONS, actor_for, routed, triaged

# Besides the samples: the other verification outcome and a dispatch back to the first department. The steps
# that move a case forward come thrice, so that random histories get past the first void or return.
FORWARD = [SAMPLE_ACTIONS[name] for name in (A.ACCEPT, A.HANDLE, A.VERIFY, A.APPROVE, A.RESUME, A.EVALUATE)]
POOL = [
    *SAMPLE_ACTIONS.values(),
    *FORWARD,
    *FORWARD,
    VerifyAction(passed=False, note="未整改到位"),
    DispatchAction(department_code=LEAD),
    "timers",
    "timers",
]


def fold(initial: Case, steps: list[tuple[int, int]]) -> tuple[Case, list[Transition]]:
    """Apply each (pool index, minutes later) step; refusals change nothing, as in the stream."""
    case, history, now = initial, [], initial.opened_at
    for index, minutes in steps:
        now += timedelta(minutes=minutes)
        choice = POOL[index]
        if choice == "timers":
            case, fired = run_timers(case, now, CAL)
            history += fired
            continue
        assert not isinstance(choice, str)
        result = next_state(case, choice, actor=actor_for(choice), at=now, calendar=CAL)
        if isinstance(result, Applied):
            case = result.case
            history.append(result.transition)
    return case, history


steps = st.lists(
    st.tuples(st.integers(0, len(POOL) - 1), st.integers(0, 3 * 24 * 60)), min_size=1, max_size=30
)


@settings(max_examples=150, deadline=None)
@given(steps=steps, from_triage=st.booleans())
def test_replay_of_a_random_history_equals_the_folded_case(
    steps: list[tuple[int, int]], from_triage: bool
) -> None:
    initial = triaged() if from_triage else routed()
    case, history = fold(initial, steps)
    assert [t.seq for t in history] == list(range(1, len(history) + 1))
    stored = [Transition.model_validate_json(t.model_dump_json()) for t in history]  # as read from a log
    assert replay(initial, stored, calendar=CAL) == case
    assert case.seq == len(history)


def history_of(*names: A) -> list[Transition]:
    """The transitions of a routed case taking the sample actions named, ten minutes apart."""
    return fold(routed(), [(POOL.index(SAMPLE_ACTIONS[name]), 10) for name in names])[1]


def test_replay_stops_at_a_gap_in_the_history() -> None:
    history = history_of(A.ACCEPT, A.HANDLE)
    with pytest.raises(ReplayError, match="expected seq 1"):
        replay(routed(), history[1:], calendar=CAL)


def test_replay_stops_where_the_recorded_states_disagree() -> None:
    forged = history_of(A.ACCEPT)[0].model_copy(update={"to_state": CaseState.HANDLED})
    with pytest.raises(ReplayError, match="recorded dispatched→handled"):
        replay(routed(), [forged], calendar=CAL)


def test_replay_stops_at_an_action_the_state_refuses() -> None:
    closed = fold(routed(), [(POOL.index(SAMPLE_ACTIONS[n]), 1) for n in (A.ACCEPT, A.HANDLE, A.VERIFY)])[0]
    with pytest.raises(ReplayError, match="illegal_transition"):
        replay(closed.model_copy(update={"seq": 0}), history_of(A.ACCEPT), calendar=CAL)


def test_merged_reports_are_not_history_and_are_left_out_of_the_comparison() -> None:
    other = UUID("00000000-0000-4000-8000-0000000000bb")
    merged = attach_report(routed(), other, new_reporter=True)
    assert attach_report(merged, other, new_reporter=True) == merged
    assert (merged.report_ids[-1], merged.reporter_count) == (other, 2)
    assert differences(merged, routed()) == {}
    assert set(differences(merged, routed(), ignore=())) == {"report_ids", "reporter_count"}
