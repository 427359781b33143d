"""Cases over HTTP: read a case as the API answers it; act on one by sending a command to the case agent
and waiting for the outcome it records.

The API decides nothing about the lifecycle: it checks the request's form (cases.actions), sends the action
to `cases.commands` keyed by the case, and answers what the case agent did with it. One partition holds all
the commands of a case, so two conflicting actions sent at once are applied in turn and the second refused.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar
from uuid import UUID, uuid4

from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from accounts.roles import Principal
from api.attachments import AttachmentStore
from api.auth import scoping
from api.cases import evidence, queries
from api.cases.schemas import (
    OPENING_ACTION,
    OPENING_LABEL,
    CaseArea,
    CaseOut,
    DepartmentOut,
    HistoryEntry,
)
from api.errors import ActionQueued, ActionRefused, InvalidInput, NotFound
from api.names import area_names, category_name, codes_by_level, department_names
from api.producer import EventProducer
from cases.actions import CaseAction, DispatchAction, parse_action
from cases.model import Case
from cases.states import ACTION_LABELS, STATE_LABELS, SYSTEM_ONLY_ACTIONS, ActionName, CaseState
from cases.timers import due_status
from infra.settings import Settings
from stream.events import TOPICS, CaseCommand
from stream.router import work_calendar

T = TypeVar("T")

# Waiting for the case agent: a command is usually applied within a batch (tens of ms), so look soon and
# then less often; past WAIT_S the action stays queued and the client is told so (504).
POLL_FIRST_S = 0.025
POLL_MAX_S = 0.2
POLL_GROWTH = 1.5
WAIT_S = 10.0

_PEOPLES_ACTIONS = ", ".join(a.value for a in ActionName if a not in SYSTEM_ONLY_ACTIONS)


def parse_body(body: dict[str, Any]) -> CaseAction:
    """The action the body asks for; a 422 naming the field otherwise (`warn` is the system's own)."""
    tag = body.get("action")
    if isinstance(tag, str) and tag in {a.value for a in SYSTEM_ONLY_ACTIONS}:
        raise InvalidInput(f"{tag!r} is done by the system only (该操作仅限系统执行)", field="body.action")
    try:
        return parse_action(body)
    except ValidationError as exc:
        raise RequestValidationError([_located(e) for e in exc.errors(include_url=False)]) from None


def _located(error: Any) -> dict[str, Any]:
    # The union's errors are located under the action's name (`return.reason`); the client sent `reason`.
    kind, loc = error["type"], tuple(error["loc"])
    if kind == "union_tag_invalid":
        tag = error.get("ctx", {}).get("tag")
        msg = f"unknown action {tag!r}, expected one of {_PEOPLES_ACTIONS} (未知的操作)"
        return {"type": kind, "loc": ["body", "action"], "msg": msg, "input": tag}
    if kind == "union_tag_not_found":
        msg = f"Field required: the action, one of {_PEOPLES_ACTIONS} (缺少操作名称)"
        return {"type": "missing", "loc": ["body", "action"], "msg": msg}
    return {**error, "loc": ["body", *loc[1:]]}


async def wait_for(
    read: Callable[[], Awaitable[T | None]],
    *,
    within: float = WAIT_S,
    first: float = POLL_FIRST_S,
    most: float = POLL_MAX_S,
    growth: float = POLL_GROWTH,
) -> T | None:
    """Call `read` until it gives something, sleeping `first` growing to `most` between calls; None once
    `within` seconds have passed without an answer."""
    deadline = time.monotonic() + within
    for interval in poll_intervals(first, most, growth):
        found = await read()
        if found is not None:
            return found
        left = deadline - time.monotonic()
        if left <= 0:
            return None
        await asyncio.sleep(min(interval, left))
    raise AssertionError("poll_intervals never ends")


def poll_intervals(first: float, most: float, growth: float) -> Iterator[float]:
    """first, first × growth, ... up to `most`, then `most` for ever."""
    interval = first
    while True:
        yield interval
        interval = min(interval * growth, most)


async def act(
    *,
    engine: AsyncEngine,
    producer: EventProducer,
    settings: Settings,
    principal: Principal,
    case_id: UUID,
    action: CaseAction,
    store: AttachmentStore,
    command_id: UUID | None = None,
) -> CaseOut:
    """Send `principal`'s `action` to the case agent and answer its outcome: the case once applied, else why
    not. `command_id` (the Idempotency-Key) makes a resend safe: if that command has an outcome already, it
    is answered again and nothing is sent; if it was sent but not applied yet, sending it again is harmless
    (the case agent applies a command_id once). A key used for another case or another action is refused
    (422), also when the two were sent so close together that the agent took the first while the second
    waited. Photos it names must be the case's (`evidence`)."""
    asked = action.model_dump(mode="json")
    async with engine.connect() as conn:
        earlier = await queries.command(conn, command_id) if command_id is not None else None
        if earlier is not None:
            _same_request(earlier, case_id, asked)
            # One's own applied action is answered again even if it took the case out of one's scope (a
            # department resending its return); anything else only to whoever sees the case.
            if earlier.actor != principal.actor:
                await scoping.visible_case(conn, principal, case_id)
            return await _answer(conn, earlier.outcome, case_id, action, settings)
        # Who may, before anything is sent: out of scope 404 (as a case that does not exist), else 403.
        _case, facts = await scoping.visible_case(conn, principal, case_id)
        scoping.check_action(principal, action.action, facts)
        # The lifecycle takes any well-formed code; a case sent to a department that does not exist would
        # wait for nobody.
        if isinstance(action, DispatchAction) and not await department_names(conn, [action.department_code]):
            unknown = f"no department with code {action.department_code!r} (部门不存在)"
            raise InvalidInput(unknown, field="body.department_code")
        await evidence.check_attachments(conn, store, case_id, action)
    command = CaseCommand(
        command_id=command_id or uuid4(),
        case_id=case_id,
        kind="act",
        at=datetime.now(UTC),
        actor=principal.actor,
        action=asked,
    )
    topic = settings.topic(TOPICS["case_commands"])
    await producer.send(topic, key=case_id.bytes, value=command.model_dump_json().encode())

    async def outcome() -> queries.Command | None:
        # A connection per look, so that a waiting request holds none of the pool's few connections.
        async with engine.connect() as conn:
            return await queries.command(conn, command.command_id)

    done = await wait_for(outcome)
    if done is None:
        raise ActionQueued(
            "操作已进入案件队列，将按顺序办理，请稍后查看案件 (queued: the case agent will apply it in turn)",
            command_id=str(command.command_id),
        )
    _same_request(done, case_id, asked)  # the agent applies a key once: maybe another request's
    async with engine.connect() as conn:
        return await _answer(conn, done.outcome, case_id, action, settings)


def _same_request(earlier: queries.Command, case_id: UUID, asked: dict[str, Any]) -> None:
    """An Idempotency-Key answers again only the request it was first used for."""
    if earlier.case_id != case_id:
        raise InvalidInput(
            "Idempotency-Key 已用于另一案件的操作 (the key belongs to another case's action)",
            field="header.idempotency-key",
        )
    if earlier.action is not None and earlier.action != asked:
        raise InvalidInput(
            "Idempotency-Key 已用于本案件的另一操作 (the key belongs to another action on this case: "
            f"{earlier.action.get('action')})",
            field="header.idempotency-key",
        )


async def _answer(
    conn: AsyncConnection,
    done: queries.Outcome,
    case_id: UUID,
    action: CaseAction,
    settings: Settings,
) -> CaseOut:
    """The case once `done` applied it, else the refusal in the case's terms. The caller saw the case when it
    asked (checked before), so it is answered even when the action took it out of the caller's scope (a
    department returning a case no longer sees it)."""
    if done.outcome == "applied":
        case = await queries.case(conn, case_id)
        if case is None:
            raise _unknown(case_id)
        return await _present_stored(conn, case, settings)
    if done.code == "not_found":
        raise _unknown(case_id)
    state = await queries.case_state(conn, case_id) or ""
    detail = done.detail or ""
    if done.code == "failed":  # the stored detail is an internal error, not for the client
        detail = "操作未能执行，已记录待查 (the case agent could not apply it)"
    raise ActionRefused(done.code or "failed", detail, state=state, action=action.action.value)


async def read_case(
    *, conn: AsyncConnection, principal: Principal, case_id: UUID, settings: Settings
) -> CaseOut:
    """The case as `principal` may read it; one out of its scope answers as one that does not exist."""
    case, _facts = await scoping.visible_case(conn, principal, case_id)
    return await _present_stored(conn, case, settings)


async def _present_stored(conn: AsyncConnection, case: Case, settings: Settings) -> CaseOut:
    case_id = case.case_id
    codes = codes_by_level(case)
    lead = [case.department_code] if case.department_code else []
    return present(
        case,
        await queries.history(conn, case_id),
        area=CaseArea(**codes, names=await area_names(conn, codes)),
        departments=await department_names(conn, [*lead, *case.helper_codes]),
        category=await category_name(conn, case.category),
        now=datetime.now(UTC),
        warning_share=settings.case_warning_share,
    )


def present(
    case: Case,
    history: Sequence[Any],
    *,
    area: CaseArea,
    departments: dict[str, str],
    category: str | None,
    now: datetime,
    warning_share: float,
) -> CaseOut:
    """The answer for a stored case and its history rows, with names looked up and `due` as of `now`."""

    def department(code: str) -> DepartmentOut:
        return DepartmentOut(code=code, name=departments.get(code))

    return CaseOut(
        case_id=case.case_id,
        state=case.state,
        state_label=STATE_LABELS[case.state],
        category=case.category,
        category_name=category,
        area=area,
        department=department(case.department_code) if case.department_code else None,
        helpers=[department(code) for code in case.helper_codes],
        level=case.level,
        deadline_at=case.deadline_at,
        due=due_status(case, now, work_calendar(), warning_share),
        pending=case.pending,
        report_ids=list(case.report_ids),
        reporter_count=case.reporter_count,
        opened_at=case.opened_at,
        closed_at=case.closed_at,
        history=[_entry(row) for row in history],
    )


def _label(action: str) -> str:
    if action == OPENING_ACTION:
        return OPENING_LABEL
    try:
        return ACTION_LABELS[ActionName(action)]
    except ValueError:  # a kind of history row newer than this API: show it rather than fail the case
        return action


def _entry(row: Any) -> HistoryEntry:
    return HistoryEntry(
        seq=row.seq,
        action=row.action,
        action_label=_label(row.action),
        from_state=CaseState(row.from_state) if row.from_state else None,
        to_state=CaseState(row.to_state),
        actor=row.actor,
        at=row.at,
        reason=row.reason,
        note=row.note,
    )


def _unknown(case_id: UUID) -> NotFound:
    return scoping.case_missing(case_id)
