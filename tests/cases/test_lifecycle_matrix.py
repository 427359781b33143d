"""Every state × every action against the table documented in `cases.lifecycle`'s docstring."""

from __future__ import annotations

import pytest

import cases.lifecycle as lifecycle
from cases.lifecycle import STATE_LETTERS, Applied, Refusal, RefusalCode, next_state, render_table
from cases.model import Case
from cases.states import REQUEST_STATES, ActionName, CaseState

from .builders import CAL, SAMPLE_ACTIONS, T0, actor_for, apply, case_in

LETTER_STATES = {letter: state for state, letter in STATE_LETTERS.items()}


def documented_table() -> dict[tuple[CaseState, ActionName], str]:
    """The cells of the table in the module docstring, read as a person would read them."""
    doc = lifecycle.__doc__ or ""
    lines = [line.split() for line in doc.splitlines() if line.startswith("    ")]
    header = next(cells for cells in lines if cells and cells[0] == "T")
    states = [LETTER_STATES[letter] for letter in header]
    table = {}
    for cells in lines:
        if cells and cells[0] in {a.value for a in ActionName}:
            for state, cell in zip(states, cells[1:], strict=True):
                table[(state, ActionName(cells[0]))] = cell
    return table


DOCUMENTED = documented_table()


def test_docstring_table_is_the_transitions_data() -> None:
    assert render_table() in (lifecycle.__doc__ or "")
    assert len(DOCUMENTED) == len(CaseState) * len(ActionName)


def prepared(state: CaseState, action: ActionName) -> Case:
    """A case in `state` with what `action` needs besides the state (a waiting request, for approve)."""
    case = case_in(state)
    if action in (ActionName.APPROVE, ActionName.REJECT) and state in REQUEST_STATES:
        case = apply(case, SAMPLE_ACTIONS[ActionName.POSTPONE])
    return case


# Where a cell allows more than one next state, the sample action picks this one.
SAMPLE_OUTCOME = {
    ActionName.VERIFY: CaseState.CLOSED,  # passed
    ActionName.RESUME: CaseState.IN_PROGRESS,  # the builder suspends an in-progress case
}


@pytest.mark.parametrize("action", list(ActionName), ids=str)
@pytest.mark.parametrize("state", list(CaseState), ids=str)
def test_state_action_outcome_is_as_documented(state: CaseState, action: ActionName) -> None:
    sample = SAMPLE_ACTIONS[action]
    result = next_state(prepared(state, action), sample, actor=actor_for(sample), at=T0, calendar=CAL)
    cell = DOCUMENTED[(state, action)]
    if cell == "-":
        assert isinstance(result, Refusal)
        assert (result.code, result.state, result.action) == (RefusalCode.ILLEGAL_TRANSITION, state, action)
        return
    assert isinstance(result, Applied), result
    allowed = {state if part == "=" else LETTER_STATES[part] for part in cell.split("|")}
    assert result.transition.to_state in allowed
    expected = SAMPLE_OUTCOME.get(action, state if "=" in cell else next(iter(allowed)))
    assert result.case.state is result.transition.to_state is expected
    assert result.transition.from_state is state
    assert result.case.seq == result.transition.seq == prepared(state, action).seq + 1


@pytest.mark.parametrize("state", [CaseState.CLOSED, CaseState.EVALUATED, CaseState.VOIDED], ids=str)
def test_terminal_states_take_nothing_but_an_evaluation_of_a_closed_case(state: CaseState) -> None:
    allowed = {a for a in ActionName if DOCUMENTED[(state, a)] != "-"}
    assert allowed == ({ActionName.EVALUATE} if state is CaseState.CLOSED else set())
