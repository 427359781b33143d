"""The four-level view on the live system: cases opened in a community of their own and moved through the
loop by HTTP; the view's figures equal an independent count from the case rows, the aggregates equal their
recount, filters work, and each figure's case list holds exactly the cases it counts."""

from __future__ import annotations

import asyncio
import random
from datetime import timedelta
from typing import Any

import httpx
import pytest
from shapely import Point, wkb
from sqlalchemy import text

from accounts.roles import Role
from api.views.filters import today
from api.views.schemas import ViewOut
from infra.view_cli import run_check
from tests.e2e.test_cases_api import other_department
from tests.e2e.test_report_trip import report
from tests.fixtures import TEST_PASSWORD, Accounts, LiveSystem, wait_until

# 绿地养护 (gardens, 120 working hours) and 占道经营… (urban management, 120): categories no other live test
# posts at its own spots, with deadlines far beyond the test, so no timer moves these cases meanwhile.
GARDENS, STREETS = "10402", "20202"
DISTRICT = "210211000000"  # 甘井子区: the other case tests use the central districts
# A period from yesterday to two months ahead: the cases' deadlines (120 working hours) fall in it.
AHEAD = {"from": (today() - timedelta(days=1)).isoformat(), "to": (today() + timedelta(days=60)).isoformat()}


def community(system: LiveSystem) -> tuple[str, list[tuple[float, float]]]:
    """A community of 甘井子区 and spots inside it, 90 m or more apart (duplicates join within 50 m)."""
    with system.engine.connect() as conn:
        code, geom = conn.execute(
            text(
                "SELECT code, ST_AsBinary(geom) FROM areas WHERE level = 'community' AND code LIKE '210211%'"
                " AND geom IS NOT NULL ORDER BY ST_Area(geom) DESC, code LIMIT 1"
            )
        ).one()
    inner = wkb.loads(bytes(geom)).buffer(-0.0008)
    rng = random.Random(11)
    spots: list[tuple[float, float]] = []
    minx, miny, maxx, maxy = inner.bounds
    while len(spots) < 24:
        lon, lat = rng.uniform(minx, maxx), rng.uniform(miny, maxy)
        if inner.contains(Point(lon, lat)) and all(
            abs(lon - x) > 0.0012 or abs(lat - y) > 0.0009 for x, y in spots
        ):
            spots.append((lon, lat))
    return code, spots


def open_case(
    system: LiveSystem, spot: tuple[float, float], category: str, reporter: str, headers: dict[str, str]
) -> dict[str, Any]:
    """A case opened by a report at `spot`, as its row stands (read from the database: what the API shows
    of it is scoped to the caller)."""
    body = report(
        *spot, category=category, reporter_id=reporter
    )  # as for a 12345 call to the dispatch center
    answer = httpx.post(f"{system.api_url}/api/v1/reports", json=body, headers=headers)
    assert answer.status_code == 202, answer.text
    query = text(
        "SELECT c.case_id, c.department_code, c.city_code, c.grid_code FROM reports r"
        " JOIN cases c ON c.case_id = r.case_id WHERE r.report_id = :r AND r.status = 'routed'"
    )

    def row() -> Any:
        with system.engine.connect() as conn:
            return conn.execute(query, {"r": body["report_id"]}).first()

    wait_until(lambda: row() is not None, timeout=60, what="the report to open its case")
    found = row()
    return {
        "case_id": str(found.case_id),
        "department": {"code": found.department_code},
        "area": {"city": found.city_code, "grid": found.grid_code},
    }


# Who may do what (accounts.scope): the lead department works the case, the grid worker of its grid
# verifies, the dispatch center approves, dispatches, voids and escalates.
DEPARTMENT_ACTIONS = {"accept", "return", "handle", "postpone", "suspend"}


def people(system: LiveSystem, community_code: str, lead: str) -> dict[str, str]:
    """This test's own users: the lead department of its cases and a grid worker of all its grids."""
    from api.auth import store

    with system.engine.begin() as conn:
        grids = [
            g
            for (g,) in conn.execute(
                text("SELECT code FROM areas WHERE parent_code = :c"), {"c": community_code}
            )
        ]
        wanted = {
            "t_view_department": (Role.DEPARTMENT, {"department_code": lead}),
            "t_view_grid_worker": (Role.GRID_WORKER, {"grid_codes": grids}),
        }
        for name, (role, assignment) in wanted.items():
            if store.get_by_username(conn, username=name) is None:
                store.create_user(
                    conn, username=name, password=TEST_PASSWORD, role=role, actor="test:view", **assignment
                )  # type: ignore[arg-type]
    return {"department": "t_view_department", "grid": "t_view_grid_worker"}


def applied(
    system: LiveSystem,
    accounts: Accounts,
    who: dict[str, str],
    case: dict[str, Any],
    action: str,
    **fields: object,
) -> dict[str, Any]:
    if action in DEPARTMENT_ACTIONS:
        headers = accounts.headers(who["department"])
    elif action == "verify":
        headers = accounts.headers(who["grid"])
    else:
        headers = accounts.headers(Role.CITY_DISPATCH)
    answer = httpx.post(
        f"{system.api_url}/api/v1/cases/{case['case_id']}/actions",
        json={"action": action, **fields},
        headers=headers,
        timeout=20,
    )
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


_MADE: dict[str, dict[str, Any]] = {}  # per database: test_exports uses the same cases


@pytest.fixture(scope="module")
def scenario(live_system: LiveSystem, accounts: Accounts) -> dict[str, Any]:
    """Nine cases of one community, each moved to a different place in the loop (made once per run)."""
    if live_system.settings.pg_database not in _MADE:
        _MADE[live_system.settings.pg_database] = make_scenario(live_system, accounts)
    return _MADE[live_system.settings.pg_database]


def make_scenario(live_system: LiveSystem, accounts: Accounts) -> dict[str, Any]:
    code, spots = community(live_system)
    s = iter(spots)
    reporter = (accounts.users[Role.CITY_DISPATCH].username, accounts.headers(Role.CITY_DISPATCH))
    cases: dict[str, dict[str, Any]] = {}
    for name in ("closed", "rework", "postponed", "returned", "redispatched", "voided", "suspended", "up"):
        cases[name] = open_case(live_system, next(s), GARDENS, *reporter)
    cases["plain"] = open_case(live_system, next(s), STREETS, *reporter)
    who = people(live_system, code, cases["closed"]["department"]["code"])

    def a(name: str, action: str, **fields: object) -> None:
        applied(live_system, accounts, who, cases[name], action, **fields)

    (
        a("closed", "accept"),
        a("closed", "handle", note="已修剪"),
        a("closed", "verify", passed=True, note="通过"),
    )
    (
        a("rework", "accept"),
        a("rework", "handle", note="已修剪"),
        a("rework", "verify", passed=False, note="未清运"),
    )
    a("postponed", "postpone", hours=8, reason="苗木待运"), a("postponed", "approve")
    a("returned", "return", reason="不属于本部门职责")
    lead = cases["redispatched"]["department"]["code"]
    a("redispatched", "return", reason="不属于本部门职责")
    a("redispatched", "dispatch", department_code=other_department(live_system, lead))
    a("voided", "void", reason="重复立案")
    a("suspended", "accept"), a("suspended", "suspend", reason="等待认定"), a("suspended", "approve")
    a("up", "escalate", reason="需市级协调")
    return {"community": code, "cases": cases, "lead": lead}


# Who reads: the dispatch center, which sees the whole city (the header is set by the `reader` fixture).
READER: dict[str, Any] = {}


@pytest.fixture(autouse=True)
def reader(accounts: Accounts) -> None:
    READER["accounts"] = accounts


def read_headers() -> dict[str, str]:
    accounts: Accounts = READER["accounts"]
    return accounts.headers(Role.CITY_DISPATCH)


def view(system: LiveSystem, code: str, **params: Any) -> dict[str, Any]:
    answer = httpx.get(
        f"{system.api_url}/api/v1/views/{code}", params=params, headers=read_headers(), timeout=30
    )
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def listed(system: LiveSystem, link: str) -> set[str]:
    ids: set[str] = set()
    page = 1
    while True:
        answer = httpx.get(
            f"{system.api_url}{link}&page={page}", headers=read_headers(), timeout=30
        )  # params= would drop the link's
        assert answer.status_code == 200, answer.text
        body = answer.json()
        ids |= {item["case_id"] for item in body["items"]}
        if page * body["page_size"] >= body["total"]:
            assert len(ids) == body["total"]
            return ids
        page += 1


def test_the_aggregates_equal_their_recount_from_the_case_history(live_system: LiveSystem, scenario):
    result = run_check(live_system.settings)
    assert result.cases > 0 and result.same, (result.differing, result.rows_differing)


def test_the_check_names_each_count_changed_behind_the_agent_and_recounts_in_batches(
    live_system: LiveSystem, scenario
):
    """The check is no rubber stamp: in a transaction rolled back afterwards, a daily count raised by one, a
    current count deleted, a weekly total lowered and a case's mark moved are each found, with the stored
    and recounted numbers; recounting three cases at a time gives the same answer as all at once, and tells
    its progress."""
    code = scenario["community"]

    async def tampered() -> tuple[Any, Any, Any, list[int], tuple[Any, ...]]:
        from sqlalchemy.ext.asyncio import create_async_engine

        from stream.aggregates_check import check
        from stream.router import work_calendar

        engine = create_async_engine(live_system.settings.database_url())
        try:
            async with engine.connect() as conn:
                told: list[int] = []
                transaction = await conn.begin()
                try:
                    whole = await check(conn, work_calendar())
                    await transaction.rollback()
                    transaction = await conn.begin()
                    batched = await check(conn, work_calendar(), batch_cases=3, progress=told.append)
                    await transaction.rollback()
                    transaction = await conn.begin()
                    raised = (
                        await conn.execute(
                            text(
                                "UPDATE view_daily SET n = n + 1 WHERE ctid = (SELECT ctid FROM view_daily"
                                " WHERE area_code = :c AND n > 0 LIMIT 1)"
                                " RETURNING area_code, day, category, department_code, measure, n"
                            ),
                            {"c": code},
                        )
                    ).one()
                    deleted = (
                        await conn.execute(
                            text(
                                "DELETE FROM view_current WHERE ctid = (SELECT ctid FROM view_current"
                                " WHERE area_code = :c AND n > 0 LIMIT 1)"
                                " RETURNING area_code, state, category, department_code, n"
                            ),
                            {"c": code},
                        )
                    ).one()
                    await conn.execute(
                        text(
                            "UPDATE view_weekly_total SET n = n - 1 WHERE ctid = (SELECT ctid"
                            " FROM view_weekly_total WHERE area_code = :c LIMIT 1)"
                        ),
                        {"c": code},
                    )
                    await conn.execute(
                        text("UPDATE view_case_marks SET seq = seq + 1 WHERE case_id = :k"),
                        {"k": next(iter(scenario["cases"].values()))["case_id"]},
                    )
                    found = await check(conn, work_calendar(), examples=100)
                    return whole, batched, found, told, (raised, deleted)
                finally:
                    await transaction.rollback()
        finally:
            await engine.dispose()

    whole, batched, found, told, (raised, deleted) = asyncio.run(tampered())
    assert whole.same and whole.cases > 3, (whole.differing, whole.rows_differing)
    assert (batched.same, batched.cases, batched.cells) == (True, whole.cases, whole.cells)
    assert told == sorted(told) and len(told) > 2 and told[-1] == whole.cases
    assert not found.same and not found.marks_same
    by_cell = {
        (cell.area_code, cell.day, cell.category, cell.department, cell.measure): (kept, again)
        for cell, kept, again in found.differing
    }
    area, day, category, department, measure, n = raised
    assert by_cell[(area, day, category, department, measure)] == (n, n - 1)
    area, state, category, department, n = deleted
    assert by_cell[(area, None, category, department, state)] == (0, n)
    assert found.differing_count == 2
    tables = {row.table for row in found.rows_differing}
    # view_daily_total no longer equals the raised view_daily; view_current_total no longer the deleted one
    assert tables == {"view_daily_total", "view_weekly_total", "view_current_total"}, found.rows_differing


# view_daily_total's rows that differ from view_daily summed over category and department.
TOTALS_DIFFERING = """
SELECT area_code, day, measure, t.n, d.n
FROM view_daily_total t
FULL JOIN (SELECT area_code, day, measure, sum(n) AS n FROM view_daily GROUP BY 1, 2, 3) d
USING (area_code, day, measure) WHERE coalesce(t.n, 0) <> coalesce(d.n, 0)
"""


def test_the_daily_totals_equal_the_daily_counts_summed_as_kept_and_after_a_rebuild(
    live_system: LiveSystem, scenario
):
    code = scenario["community"]
    with live_system.engine.connect() as conn:
        assert conn.execute(text(TOTALS_DIFFERING)).all() == []
        registered = "SELECT sum(n) FROM view_daily_total WHERE area_code = :c AND measure = 'registered'"
        assert conn.execute(text(registered), {"c": code}).scalar_one() == len(scenario["cases"])

    async def rebuilt() -> tuple[list[Any], list[Any], int]:
        from sqlalchemy.ext.asyncio import create_async_engine

        from stream.aggregates_check import SUMS, rebuild, summed_differing
        from stream.router import work_calendar

        engine = create_async_engine(live_system.settings.database_url())
        try:
            async with engine.connect() as conn:
                transaction = await conn.begin()  # rolled back: the live counts stay as the agent kept them
                try:
                    await rebuild(conn, work_calendar())
                    differing = (await conn.execute(text(TOTALS_DIFFERING))).all()
                    others = [row for table in SUMS for row in await summed_differing(conn, table)]
                    n = (await conn.execute(text(registered), {"c": code})).scalar_one()
                    return differing, others, n
                finally:
                    await transaction.rollback()
        finally:
            await engine.dispose()

    differing, others, n = asyncio.run(rebuilt())
    assert differing == [] and others == [] and n == len(scenario["cases"])


def test_the_communitys_figures_equal_an_independent_count_of_its_case_rows(
    live_system: LiveSystem, scenario
):
    code, ids = scenario["community"], {c["case_id"] for c in scenario["cases"].values()}
    figures = view(live_system, code[:9] + "000", **AHEAD)["children"]
    (mine,) = [child["figures"] for child in figures if child["code"] == code]
    with live_system.engine.connect() as conn:
        rows = conn.execute(text("SELECT case_id, state FROM cases WHERE community_code = :c"), {"c": code})
        states = {str(r.case_id): r.state for r in rows}
        actions = conn.execute(
            text(
                "SELECT h.action, h.to_state, count(DISTINCT h.case_id) FROM case_history h"
                " JOIN cases c USING (case_id) WHERE c.community_code = :c GROUP BY 1, 2"
            ),
            {"c": code},
        ).all()
    assert set(states) == ids  # the community holds only this test's cases
    by_action = {(action, to): n for action, to, n in actions}
    indicators = mine["indicators"]
    assert indicators["registered"]["value"] == len(ids) == by_action[("open", "dispatched")]
    assert indicators["closed"]["value"] == by_action[("verify", "closed")] == 1
    assert indicators["reworked"]["value"] == by_action[("verify", "rework")] == 1
    assert indicators["handled"]["value"] == sum(n for (a, _), n in by_action.items() if a == "handle") == 2
    assert indicators["postponed"]["value"] == 1 and indicators["dispatched"]["value"] == len(ids)
    assert mine["flows"]["returned"]["value"] == by_action[("return", "returned")] == 2
    counted = {state: figure["value"] for state, figure in mine["cases_by_state"].items() if figure["value"]}
    assert counted == {state: list(states.values()).count(state) for state in set(states.values())}
    # Due: every case but the voided one, the suspended one among them; one closed on time.
    assert indicators["due"]["value"] == len(ids) - 1 and indicators["due_suspended"]["value"] == 1
    assert indicators["due_closed"]["value"] == indicators["due_on_time"]["value"] == 1
    assert indicators["closure_rate"] == pytest.approx(1 / (len(ids) - 2))
    assert indicators["rework_rate"] == pytest.approx(0.5) and indicators["mean_close_hours"] is not None


def test_each_figures_case_list_holds_exactly_the_cases_it_counts(live_system: LiveSystem, scenario):
    figures = view(live_system, scenario["community"], **AHEAD)["figures"]
    cases = scenario["cases"]
    expected = {
        "closed": {"closed"},
        "reworked": {"rework"},
        "handled": {"closed", "rework"},
        "postponed": {"postponed"},
        "due_suspended": {"suspended"},
        "due_on_time": {"closed"},
        "registered": set(cases),
        "due": set(cases) - {"voided"},
    }
    for name, which in expected.items():
        figure = figures["indicators"][name]
        assert listed(live_system, figure["cases"]) == {cases[w]["case_id"] for w in which}, name
        assert figure["value"] == len(which), name
    returned = figures["flows"]["returned"]["cases"]
    assert listed(live_system, returned) == {cases["returned"]["case_id"], cases["redispatched"]["case_id"]}
    for state, figure in figures["cases_by_state"].items():
        assert len(listed(live_system, figure["cases"])) == figure["value"], state


def test_flows_count_at_the_levels_they_join(live_system: LiveSystem, scenario):
    up = scenario["cases"]["up"]
    district, city = view(live_system, DISTRICT), view(live_system, up["area"]["city"])
    assert district["figures"]["flows"]["escalated_out"]["value"] >= 1
    assert city["figures"]["flows"]["escalated_in"]["value"] >= 1
    assert up["case_id"] in listed(live_system, city["figures"]["flows"]["escalated_in"]["cases"])
    assert district["figures"]["flows"]["dispatched_down"]["value"] >= 1


def test_filters_by_category_department_and_period(live_system: LiveSystem, scenario):
    code = scenario["community"]
    streets = view(live_system, code, category=STREETS)["figures"]["indicators"]
    assert streets["registered"]["value"] == 1 and "category=20202" in streets["registered"]["cases"]
    past = (today() - timedelta(days=40)).isoformat(), (today() - timedelta(days=35)).isoformat()
    before = view(live_system, code, **{"from": past[0], "to": past[1]})["figures"]["indicators"]
    assert before["registered"]["value"] == 0
    lead = view(live_system, code, department=scenario["lead"])["figures"]["indicators"]
    assert lead["registered"]["value"] == 8  # the gardens cases, registered under their first lead


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"from": "2026-13-01"}, "from"),
        ({"from": "2026-03-02", "to": "2026-03-01"}, "from"),
        ({"category": "1x"}, "category"),
        ({"category": "99999"}, "category"),
        ({"department": "210211000000:nobody"}, "department"),
    ],
)
def test_a_bad_filter_is_a_422_naming_the_field(live_system: LiveSystem, params: dict[str, str], field: str):
    for url in (f"/api/v1/views/{DISTRICT}", f"/api/v1/cases?area_code={DISTRICT}"):
        answer = httpx.get(f"{live_system.api_url}{url}", params=params, headers=read_headers())
        assert answer.status_code == 422, (url, answer.text)
        assert ["query", field] in [e["loc"] for e in answer.json()["detail"]]


def test_children_are_ranked_and_a_grid_view_answers(live_system: LiveSystem, scenario):
    children = view(live_system, DISTRICT)["children"]
    ranks = [c["figures"]["score"]["rank"] for c in children]
    scored = [r for r in ranks if r is not None]
    assert scored == list(range(1, len(scored) + 1)) and ranks[: len(scored)] == scored
    grid = scenario["cases"]["closed"]["area"]["grid"]
    assert view(live_system, grid)["figures"]["indicators"]["closed"]["value"] >= 1


def test_every_level_answers_exactly_the_openapi_schema(live_system: LiveSystem, scenario):
    """The view is built as plain data and sent as it is (api/views/routes.py), so nothing on the way
    checks it against ViewOut: this does, at each of the five levels, with and without filters. The
    answer read into ViewOut and written back is the answer itself: no field missing, none extra, none
    of another type."""
    grid = scenario["cases"]["closed"]["area"]["grid"]
    codes = ["210200000000", grid[:6] + "000000", grid[:9] + "000", grid[:12], grid]
    lead = scenario["cases"]["closed"]["department"]["code"]
    for code in codes:
        for params in ({}, AHEAD | {"department": lead}):
            body = view(live_system, code, **params)
            assert ViewOut.model_validate(body).model_dump(mode="json", by_alias=True) == body, code
            assert body["area"]["code"] == code


def test_staffing_counts_the_grid_workers_of_the_area_against_its_residents(
    live_system: LiveSystem, accounts
):
    worker = accounts.users[Role.GRID_WORKER]  # walks two grids of a community of 中山区
    district = view(live_system, "210202000000")
    staffing = district["figures"]["staffing"]
    assert staffing["grid_workers"] >= 1 and staffing["residents"] and staffing["target_per_10k"] == 18
    assert staffing["per_10k"] == pytest.approx(
        staffing["grid_workers"] * 10_000 / staffing["residents"], abs=0.006
    )
    township = worker.grid_codes[0][:9] + "000"
    (child,) = [c for c in district["children"] if c["code"] == township]
    assert child["figures"]["staffing"]["grid_workers"] >= 1
