"""api/auth/scoping.py's SQL conditions admit, in the real database, exactly what accounts.scope admits: the
same matrix of users and objects as the endpoints' (tests/e2e/scoping_world.py)."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select

from accounts.roles import Principal
from api.auth.scoping import case_clause, case_rows, report_clause, report_rows
from tests.e2e.scoping_world import World

pytestmark = pytest.mark.services


def principal(world: World, who: str) -> Principal:
    account = next(
        a
        for a in (*world.accounts.users.values(), *world.accounts.others.values())
        if a.username == world.users[who]
    )
    return Principal(
        user_id=uuid.uuid4(),
        username=account.username,
        role=account.role,
        area_code=account.area_code,
        department_code=account.department_code,
        grid_codes=account.grid_codes,
    )


def test_the_case_and_report_clauses_admit_exactly_the_objects_each_user_sees(world: World) -> None:
    cases = [uuid.UUID(o.case_id) for o in world.objects]
    reports = [uuid.UUID(o.report_id) for o in world.objects]
    wrong = []
    with world.system.engine.connect() as conn:
        for who in world.users:
            p = principal(world, who)
            expected = {o.name for o in world.objects if who in o.seen_by}
            seen_cases = set(
                conn.execute(
                    select(case_rows.c.case_id).where(
                        case_rows.c.case_id.in_(cases), case_clause(p, case_rows)
                    )
                ).scalars()
            )
            seen_reports = set(
                conn.execute(
                    select(report_rows.c.report_id).where(
                        report_rows.c.report_id.in_(reports), report_clause(p, report_rows)
                    )
                ).scalars()
            )
            got_cases = {o.name for o in world.objects if uuid.UUID(o.case_id) in seen_cases}
            got_reports = {o.name for o in world.objects if uuid.UUID(o.report_id) in seen_reports}
            if got_cases != expected or got_reports != expected:
                wrong.append(
                    f"{who}: cases {sorted(got_cases)}, reports {sorted(got_reports)}, not {sorted(expected)}"
                )
    assert not wrong, "\n".join(wrong)
