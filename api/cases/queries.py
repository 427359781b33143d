"""What the cases API reads: a case's stored document, its history and the outcome of a command.

Through the API's own read models (api/read_models.py), never the stream's table module. The case agent
writes a case, its history rows and its commands' outcomes in one transaction, so once an outcome is
visible here the case it changed is too.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from sqlalchemy import Row, Text, column, select, table
from sqlalchemy.dialects.postgresql import UUID as PgUUID
from sqlalchemy.ext.asyncio import AsyncConnection

from api.read_models import case_commands, case_history, cases
from cases.model import Case


@dataclass(frozen=True)
class Outcome:
    outcome: str  # applied | refused
    code: str | None  # refused: illegal_transition | invalid | not_found | failed
    detail: str | None


async def case(conn: AsyncConnection, case_id: UUID) -> Case | None:
    doc = (await conn.execute(select(cases.c.doc).where(cases.c.case_id == case_id))).scalar_one_or_none()
    return Case.model_validate(doc) if doc is not None else None


async def case_state(conn: AsyncConnection, case_id: UUID) -> str | None:
    state: str | None = (
        await conn.execute(select(cases.c.state).where(cases.c.case_id == case_id))
    ).scalar_one_or_none()
    return state


async def history(conn: AsyncConnection, case_id: UUID) -> Sequence[Row[*tuple[Any, ...]]]:
    query = select(case_history).where(case_history.c.case_id == case_id).order_by(case_history.c.seq)
    return (await conn.execute(query)).all()


# Which command made a history row, and whose: only the Idempotency-Key's lookup needs it (api/read_models.py
# is shared with the view's work).
_history_commands = table("case_history", column("command_id", PgUUID(as_uuid=True)), column("actor", Text))


@dataclass(frozen=True)
class Command:
    """A command the case agent processed: its case, its outcome, once applied who asked for it, and what
    an act command asked for (None when recorded before migration 0013)."""

    case_id: UUID
    outcome: Outcome
    actor: str | None
    action: dict[str, Any] | None = None


async def command(conn: AsyncConnection, command_id: UUID) -> Command | None:
    """What became of a command (an Idempotency-Key), None while the case agent has not processed it."""
    steps = _history_commands
    actor = select(steps.c.actor).where(steps.c.command_id == command_id).limit(1).scalar_subquery()
    k = case_commands.c
    query = select(k.case_id, k.outcome, k.code, k.detail, actor, k.action).where(k.command_id == command_id)
    row = (await conn.execute(query)).first()
    if row is None:
        return None
    return Command(row[0], Outcome(row[1], row[2], row[3]), row[4], row[5])
