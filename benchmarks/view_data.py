"""Ten million cases in a database of their own, for the view benchmark (issue 11), in bulk.

The stories come from benchmarks/view_templates.py (the lifecycle, the timers and the ledger of the product,
one template per opening instant × duty-rule shape × course of the case); this module gives each of N cases
a template, a grid of Dalian, a category (skewed, as real reports are), the department the duty list names
there, and writes in SQL what the case agent would have written: the cases, their history, their reports,
the marks and the aggregates (a case's cells are its template's cells at its own codes, summed).

`prove` builds a small database the same way and runs `gridflow view check`'s own comparison on it: the
aggregates this bulk path writes equal a recount folding every stored history row — the proof the
benchmark's aggregates are the ones the stream would keep.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, text

from benchmarks import view_templates as vt
from cases.calendar import default_calendar
from geo.schemas import LEVEL_ORDER, ancestor_code

LEVELS = [level.value for level in LEVEL_ORDER]  # city … grid
SHAPES = [s for s, _ in vt.ROUTED_SHAPES] + [s for s, _ in vt.TRIAGE_SHAPES]
HELD = {"township": 0, "district": 1, "city": 2}  # a category's rule: the most local one
TRIAGE_SHARE = 0.04  # categories without a rule: the dispatch center decides
NULL = "\\N"  # COPY text format
WORKERS_PER_GRID = 2  # about Dalian's 18 per 10,000 residents


@dataclass(frozen=True)
class Plan:
    cases: int
    days: list[date]
    now: datetime
    keys: list[vt.RuleKey]  # the rule keys in use; the last is triage
    categories: list[tuple[str, float, int]]  # (code, share, key index); triage ones have the last key

    @property
    def per_day(self) -> float:
        return self.cases / len(self.days)


def template_id(day: int, slot: int, key: int, shape: int, plan: Plan) -> int:
    return ((day * len(vt.SLOTS) + slot) * len(plan.keys) + key) * len(SHAPES) + shape


def make_plan(engine: Engine, cases: int, days: int, now: datetime) -> Plan:
    with engine.connect() as conn:
        codes = [r[0] for r in conn.execute(text("SELECT code FROM categories ORDER BY code"))]
        rules = conn.execute(
            text("SELECT category_code, level, deadline_hours, working_hours FROM duty_rules")
        ).fetchall()
    chosen: dict[str, tuple[str, int, bool]] = {}
    for category, level, hours, working in sorted(rules, key=lambda r: HELD.get(r[1], 9)):
        chosen.setdefault(category, (level, hours, working))
    keys = [*sorted({vt.RuleKey(*rule) for rule in chosen.values()}, key=str), vt.RuleKey(None, 24, True)]
    routed = [c for c in codes if c in chosen]
    weights = {c: 1 / (rank + 1) ** 0.9 for rank, c in enumerate(routed)}  # Zipf-like: a few dominate
    total = sum(weights.values())
    out = [
        (c, (1 - TRIAGE_SHARE) * w / total, keys.index(vt.RuleKey(*chosen[c]))) for c, w in weights.items()
    ]
    triage = [c for c in codes if c not in chosen] or routed[-1:]
    out += [(c, TRIAGE_SHARE / len(triage), len(keys) - 1) for c in triage]
    yesterday = now.astimezone(vt.ZONE).date() - timedelta(days=1)
    return Plan(cases, [yesterday - timedelta(days=d) for d in range(days - 1, -1, -1)], now, keys, out)


# --- templates, told in worker processes ----------------------------------------------------------------
def _tell_day(args: tuple[int, Plan]) -> tuple[list[str], list[str]]:
    day, plan = args
    calendar = default_calendar()
    rows, cells = [], []
    for slot, opened in enumerate(vt.opening_instants([plan.days[day]])):
        for k, key in enumerate(plan.keys):
            shapes = vt.TRIAGE_SHAPES if key.level is None else vt.ROUTED_SHAPES
            for shape, _ in shapes:
                t = vt.tell(key, shape, opened, plan.now, calendar)
                tid = template_id(day, slot, k, SHAPES.index(shape), plan)
                fields = [t.history, t.case, t.mark]
                rows.append("\t".join([str(tid), *(_tsv(json.dumps(f)) for f in fields)]))
                for c in t.cells:
                    level = c["area"].removeprefix("PL:")
                    lead = "t" if c["dept"] == vt.LEAD else "f"
                    cells.append(
                        "\t".join(map(str, [tid, level, c["day"] or NULL, c["measure"], lead, c["n"]]))
                    )
    return rows, cells


def _tsv(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")


def store_templates(engine: Engine, plan: Plan, progress: Callable[[int], None]) -> int:
    scratch(engine, "bench_template", "bench_cell")
    count = 0
    with copying(engine) as cur:
        with ProcessPoolExecutor(max_workers=max(1, (os.cpu_count() or 2))) as pool:
            for rows, cells in pool.map(_tell_day, [(d, plan) for d in range(len(plan.days))], chunksize=4):
                _copy(cur, "bench_template (template_id, history, case_row, mark)", rows)
                _copy(cur, "bench_cell (template_id, level, day, measure, lead, n)", cells)
                count += len(rows)
                progress(1)
        cur.execute("CREATE INDEX ON bench_cell (template_id)")
        cur.execute("ANALYZE bench_template, bench_cell")
    return count


# The generator's own tables (unlogged: scaffolding, dropped at the end), stated once.
SCAFFOLD = {
    "bench_template": "template_id int PRIMARY KEY, history text, case_row text, mark text",
    "bench_cell": "template_id int, level text, day date, measure text, lead bool, n bigint",
    "bench_grid": "g int PRIMARY KEY, city text, district text, township text, community text, grid text,"
    " lon float8, lat float8",
    "bench_route": "g int, c int, k int, dept text, PRIMARY KEY (g, c)",
    "bench_category": "c int PRIMARY KEY, code text, lo float8, hi float8",
    "bench_shape": "routed bool, s int, lo float8, hi float8",
    "bench_case": "i bigint, case_id uuid, report_id uuid, template_id int, category text, dept text,"
    " city text, district text, township text, community text, grid text, lon float8, lat float8,"
    " routed bool",
}


def scratch(engine: Engine, *names: str) -> None:
    """These scaffolding tables, made anew and empty (what depends on them, bench_fill, goes too)."""
    with engine.begin() as conn:
        for name in names:
            conn.execute(text(f"DROP TABLE IF EXISTS {name} CASCADE"))
            conn.execute(text(f"CREATE UNLOGGED TABLE {name} ({SCAFFOLD[name]})"))


@contextmanager
def copying(engine: Engine) -> Iterator[Any]:
    """A cursor for COPY on a connection of its own, committed at the end."""
    raw = engine.raw_connection()
    try:
        yield raw.cursor()
        raw.commit()
    finally:
        raw.close()


def _copy(cur: Any, target: str, lines: Sequence[str]) -> None:
    with cur.copy(f"COPY {target} FROM STDIN") as copy:
        copy.write("\n".join(lines) + "\n")


# --- the places and who answers there -------------------------------------------------------------------
def store_places(engine: Engine, plan: Plan) -> int:
    """bench_grid (grid, its ancestors, a point in it, the district's dispatch target) and bench_route
    (grid × category → rule key and department), and the categories' cumulative shares."""
    with engine.connect() as conn:
        grids = conn.execute(
            text(
                "SELECT code, ST_X(p), ST_Y(p) FROM (SELECT code, ST_PointOnSurface(geom) AS p"
                " FROM areas WHERE level = 'grid') g ORDER BY code"
            )
        ).fetchall()
        departments = {
            (a, k): c for c, a, k in conn.execute(text("SELECT code, area_code, kind FROM departments"))
        }
        kinds = dict(
            conn.execute(
                text("SELECT category_code || ':' || level, department_kind FROM duty_rules")
            ).fetchall()
        )
    grid_rows, route_rows = [], []
    for g, (code, lon, lat) in enumerate(grids):
        chain = {level.value: ancestor_code(code, level) for level in LEVEL_ORDER}
        by_hand = departments.get((chain["district"], "urban_management")) or departments.get(
            (chain["city"], "urban_management")
        )
        grid_rows.append("\t".join([str(g), *[chain[level] for level in LEVELS], str(lon), str(lat)]))
        for c, (category, _share, k) in enumerate(plan.categories):
            key = plan.keys[k]
            dept = by_hand
            if key.level is not None:
                kind = kinds[f"{category}:{key.level}"]
                dept = next(
                    (
                        departments[(chain[lv], kind)]
                        for lv in LEVELS[: LEVELS.index(key.level) + 1][::-1]
                        if (chain[lv], kind) in departments
                    ),
                    None,
                )
                if dept is None:  # nobody of that kind serves there: the router would send it to triage
                    k, dept = len(plan.keys) - 1, by_hand
            route_rows.append(f"{g}\t{c}\t{k}\t{dept}")
    lo = 0.0
    cat_rows = []
    for c, (category, share, _k) in enumerate(plan.categories):
        cat_rows.append(f"{c}\t{category}\t{lo}\t{lo + share}")
        lo += share
    shape_rows, acc = [], {True: 0.0, False: 0.0}
    for shapes, routed in ((vt.ROUTED_SHAPES, True), (vt.TRIAGE_SHAPES, False)):
        total = sum(w for _, w in shapes)
        for shape, w in shapes:
            shape_rows.append(
                f"{'t' if routed else 'f'}\t{SHAPES.index(shape)}\t{acc[routed]}\t{acc[routed] + w / total}"
            )
            acc[routed] += w / total
    scratch(engine, "bench_grid", "bench_route", "bench_category", "bench_shape")
    with copying(engine) as cur:
        _copy(cur, "bench_grid", grid_rows)
        _copy(cur, "bench_route", route_rows)
        _copy(cur, "bench_category", cat_rows)
        _copy(cur, "bench_shape", shape_rows)
    return len(grids)


# --- the cases ------------------------------------------------------------------------------------------
_FILL = """
CREATE OR REPLACE FUNCTION bench_fill(t text, b bench_case) RETURNS text LANGUAGE sql IMMUTABLE AS $$
  SELECT replace(replace(replace(replace(replace(replace(replace(replace(replace(t,
    'PL:township', b.township), 'PL:district', b.district), 'PL:community', b.community),
    'PL:grid', b.grid), 'PL:city', b.city), 'CAT00000', b.category), 'DEPT:LEAD', b.dept),
    '00000000-0000-4000-8000-00000000c0de', b.case_id::text), '00000000-0000-4000-8000-0000000fee1d',
    b.report_id::text)
$$"""


def _u(i: str, seed: int) -> str:
    """A uniform number in [0, 1) from the case number: the same case gets the same draw in every run."""
    return f"((hashint8extended({i}, {seed}) & 2147483647)::float8 / 2147483648.0)"


def store_case_keys(
    engine: Engine, plan: Plan, grids: int, chunk: int, progress: Callable[[int], None]
) -> None:
    """bench_case: each case's number, ids, template, category, department and codes."""
    scratch(engine, "bench_case")
    with engine.begin() as conn:
        conn.execute(text(_FILL))
    slots, keys, shapes = len(vt.SLOTS), len(plan.keys), len(SHAPES)
    for start in range(0, plan.cases, chunk):
        end = min(plan.cases, start + chunk)
        with engine.begin() as conn:
            conn.execute(
                text(
                    f"""
INSERT INTO bench_case
SELECT x.i, x.case_id, x.report_id,
       (((x.day * {slots} + x.slot) * {keys} + r.k) * {shapes} + s.s), cat.code, r.dept,
       gr.city, gr.district, gr.township, gr.community, gr.grid,
       gr.lon + ({_u("x.i", 7)} - 0.5) * 0.0004, gr.lat + ({_u("x.i", 8)} - 0.5) * 0.0003, r.k < {keys - 1}
FROM (SELECT i, (i * {len(plan.days)} / {plan.cases})::int AS day, (i % {slots})::int AS slot,
             ('00000000-0000-4000-a000-' || lpad(to_hex(i), 12, '0'))::uuid AS case_id,
             ('00000000-0000-4000-b000-' || lpad(to_hex(i), 12, '0'))::uuid AS report_id,
             (({_u("i", 1)}) * {grids})::int AS g, {_u("i", 2)} AS uc, {_u("i", 3)} AS us
      FROM generate_series(CAST(:start AS bigint), CAST(:end AS bigint) - 1) AS i) x
JOIN bench_category cat ON x.uc >= cat.lo AND x.uc < cat.hi
JOIN bench_route r ON r.g = x.g AND r.c = cat.c
JOIN bench_grid gr ON gr.g = x.g
JOIN bench_shape s ON s.routed = (r.k < {keys - 1}) AND x.us >= s.lo AND x.us < s.hi
"""
                ),
                {"start": start, "end": end},
            )
        progress(end - start)


_CASE_COLUMNS = (
    "state, category, city_code, district_code, township_code, community_code, grid_code, department_code,"
    " helper_codes, level, deadline_at, next_timer_at, pending, observed_at, opened_at, updated_at,"
    " closed_at,"
    " reporter_count, seq"
)


def write_cases(
    engine: Engine, plan: Plan, chunk: int, history: bool, progress: Callable[[int], None]
) -> None:
    """cases, case_history (if asked), reports and view_case_marks, chunk by chunk of case numbers: one
    statement a chunk, each template filled in once per case."""
    with engine.begin() as conn:
        conn.execute(text("CREATE INDEX ON bench_case (i)"))
        conn.execute(text("ANALYZE bench_case"))
    history_cte = HISTORY if history else ""
    for start in range(0, plan.cases, chunk):
        end = min(plan.cases, start + chunk)
        with engine.begin() as conn:
            sql = WRITE.replace("{history}", history_cte).replace("{columns}", _CASE_COLUMNS)
            sql = sql.replace("{has_history}", "true" if history else "false")
            conn.execute(text(sql), {"start": start, "end": end})
        progress(end - start)


WRITE = """
WITH s AS MATERIALIZED (
  SELECT b.*, bench_fill(t.case_row, b)::jsonb AS row, bench_fill(t.mark, b)::jsonb AS m,
         CASE WHEN {has_history} THEN bench_fill(t.history, b)::jsonb END AS h
  FROM bench_case b JOIN bench_template t USING (template_id)
  WHERE b.i >= :start AND b.i < :end
), c AS (
  INSERT INTO cases (case_id, doc, point, {columns})
  SELECT case_id, row->'doc', ST_SetSRID(ST_MakePoint(lon, lat), 4326),
         row->>'state', category, city, district, township, community, grid,
         row->>'department_code', row->'helper_codes', row->>'level',
         (row->>'deadline_at')::timestamptz, (row->>'next_timer_at')::timestamptz, row->>'pending',
         (row->>'observed_at')::timestamptz, (row->>'opened_at')::timestamptz,
         (row->>'updated_at')::timestamptz, (row->>'closed_at')::timestamptz,
         (row->>'reporter_count')::int, (row->>'seq')::int
  FROM s
), k AS (
  INSERT INTO view_case_marks (case_id, seq, mark) SELECT case_id, (m->>'seq')::int, m->'mark' FROM s
){history}
INSERT INTO reports (report_id, case_id, reporter_id, category, description, point, accuracy_m, crs,
                     observed_at, submitted_at, content_hash, status, case_state, triage_reason, city_code,
                     district_code, township_code, community_code, grid_code, area_synthetic, department_code,
                     deadline_at, decided_at)
SELECT report_id, case_id, 'gw-' || grid || '-' || (i % 2), category, '网格巡查发现的问题',
       ST_SetSRID(ST_MakePoint(lon, lat), 4326), 8, 'wgs84', (row->>'observed_at')::timestamptz,
       (row->>'opened_at')::timestamptz, md5(report_id::text),
       CASE WHEN routed THEN 'routed' ELSE 'triage' END, CASE WHEN routed THEN 'dispatched' ELSE 'triage' END,
       CASE WHEN routed THEN NULL ELSE 'no_rule' END, city, district, township, community, grid, true,
       CASE WHEN routed THEN dept END, CASE WHEN routed THEN (row->'doc'->>'deadline_at')::timestamptz END,
       (row->>'opened_at')::timestamptz
FROM s
"""
HISTORY = """, hist AS (
  INSERT INTO case_history (case_id, seq, command_id, action, from_state, to_state, actor, at, reason, note,
                            payload, level, department_code, deadline_at)
  SELECT s.case_id, (e->>'seq')::int, md5(s.case_id::text || (e->>'command_id'))::uuid, e->>'action',
         e->>'from_state', e->>'to_state', e->>'actor', (e->>'at')::timestamptz, e->>'reason', e->>'note',
         e->'payload', e->>'level', e->>'department_code', (e->>'deadline_at')::timestamptz
  FROM s, jsonb_array_elements(s.h) AS e
)"""


def write_aggregates(engine: Engine, progress: Callable[[int], None]) -> None:
    """view_daily and view_current: each level's cells of each case's template at the case's own codes."""
    with engine.begin() as conn:
        conn.execute(text("TRUNCATE view_daily, view_current"))
    for level in LEVELS:
        with engine.begin() as conn:
            conn.execute(text("SET LOCAL work_mem = '512MB'"))
            conn.execute(
                text(
                    f"""
INSERT INTO view_daily (area_code, day, measure, category, department_code, n)
SELECT b.{level}, c.day, c.measure, b.category, CASE WHEN c.lead THEN b.dept ELSE '' END, sum(c.n * b.cases)
FROM (SELECT {level}, category, dept, template_id, count(*) AS cases FROM bench_case GROUP BY 1, 2, 3, 4) b
JOIN bench_cell c ON c.template_id = b.template_id AND c.level = '{level}' AND c.day IS NOT NULL
GROUP BY 1, 2, 3, 4, 5 HAVING sum(c.n * b.cases) <> 0
"""
                )
            )
            conn.execute(
                text(
                    f"""
INSERT INTO view_current (area_code, state, category, department_code, n)
SELECT b.{level}, c.measure, b.category, CASE WHEN c.lead THEN b.dept ELSE '' END, sum(c.n * b.cases)
FROM (SELECT {level}, category, dept, template_id, count(*) AS cases FROM bench_case GROUP BY 1, 2, 3, 4) b
JOIN bench_cell c ON c.template_id = b.template_id AND c.level = '{level}' AND c.day IS NULL
GROUP BY 1, 2, 3, 4 HAVING sum(c.n * b.cases) <> 0
"""
                )
            )
        progress(1)
    with engine.begin() as conn:  # the rollups the view reads without a category or department filter
        if conn.execute(text("SELECT to_regclass('view_daily_total')")).scalar() is not None:
            conn.execute(text("SET LOCAL work_mem = '512MB'"))
            conn.execute(text("TRUNCATE view_daily_total"))
            conn.execute(
                text(
                    "INSERT INTO view_daily_total (area_code, day, measure, n)"
                    " SELECT area_code, day, measure, sum(n) FROM view_daily"
                    " GROUP BY 1, 2, 3 HAVING sum(n) <> 0"
                )
            )
        if conn.execute(text("SELECT to_regclass('view_weekly_total')")).scalar() is not None:
            conn.execute(text("TRUNCATE view_weekly_total, view_current_total"))
            conn.execute(
                text(
                    "INSERT INTO view_weekly_total (area_code, week, measure, n)"
                    " SELECT area_code, date_trunc('week', day)::date, measure, sum(n) FROM view_daily_total"
                    " GROUP BY 1, 2, 3 HAVING sum(n) <> 0"
                )
            )
            conn.execute(
                text(
                    "INSERT INTO view_current_total (area_code, state, n)"
                    " SELECT area_code, state, sum(n) FROM view_current GROUP BY 1, 2 HAVING sum(n) <> 0"
                )
            )


def write_workers(engine: Engine) -> int:
    """Grid workers: two a grid (the seed's target is 18 per 10,000 residents), as users hold them."""
    with engine.begin() as conn:
        return conn.execute(
            text(
                f"""
INSERT INTO users (user_id, username, password_hash, role, area_code, grid_codes)
SELECT gen_random_uuid(), 'gw-' || g.grid || '-' || n, '!bench', 'grid_worker', g.community,
       jsonb_build_array(g.grid)
FROM bench_grid g, generate_series(0, {WORKERS_PER_GRID - 1}) AS n
ON CONFLICT DO NOTHING
"""
            )
        ).rowcount


def drop_scaffolding(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(text(f"DROP TABLE IF EXISTS {', '.join(SCAFFOLD)} CASCADE"))  # bench_fill with them


def now_utc() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


# --- indexes, bookkeeping -------------------------------------------------------------------------------
BULK_TABLES = (
    "cases",
    "case_history",
    "reports",
    "view_case_marks",
    "view_daily",
    "view_current",
    "view_daily_total",
    "view_weekly_total",
    "view_current_total",
)


def drop_indexes(engine: Engine) -> list[str]:
    """Drop the bulk-written tables' indexes and primary keys (built once at the end: far cheaper than
    keeping them row by row); return the statements that make them again."""
    with engine.begin() as conn:
        rows = conn.execute(
            text(
                "SELECT i.indexname, i.indexdef, c.conname, pg_get_constraintdef(c.oid), i.tablename"
                " FROM pg_indexes i LEFT JOIN pg_constraint c ON c.conname = i.indexname"
                " WHERE i.schemaname = 'public' AND i.tablename = ANY(:t)"
            ),
            {"t": list(BULK_TABLES)},
        ).fetchall()
        again = []
        for index, definition, constraint, condef, table in rows:
            if constraint:
                conn.execute(text(f'ALTER TABLE {table} DROP CONSTRAINT "{constraint}"'))
                again.append(f'ALTER TABLE {table} ADD CONSTRAINT "{constraint}" {condef}')
            else:
                conn.execute(text(f'DROP INDEX "{index}"'))
                again.append(definition)
    return again


def create_indexes(engine: Engine, statements: Sequence[str], progress: Callable[[int], None]) -> None:
    for statement in statements:
        with engine.begin() as conn:
            conn.execute(text("SET LOCAL maintenance_work_mem = '1GB'"))
            conn.execute(text(statement))
        progress(1)


def finish(engine: Engine, cases: int, days: int, history: bool) -> None:
    """Statistics for the planner, and what was generated (so a later run measures without generating)."""
    with engine.begin() as conn:
        conn.execute(
            text(
                "CREATE TABLE IF NOT EXISTS bench_meta (cases bigint, days int, history bool, at timestamptz)"
            )
        )
        conn.execute(text("TRUNCATE bench_meta"))
        conn.execute(
            text("INSERT INTO bench_meta VALUES (:c, :d, :h, now())"), {"c": cases, "d": days, "h": history}
        )
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE"))


def exists(settings: Any, name: str) -> bool:
    from infra.services.postgres_access import admin_connect

    with admin_connect(settings) as conn:
        return conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone() is not None


def held(engine: Engine) -> dict[str, Any] | None:
    with engine.connect() as conn:
        if conn.execute(text("SELECT to_regclass('bench_meta')")).scalar() is None:
            return None
        row = conn.execute(text("SELECT cases, days, history FROM bench_meta")).first()
        return None if row is None else {"cases": row[0], "days": row[1], "history": row[2]}


def sizes(engine: Engine) -> str:
    tables = ("cases", "case_history", "reports", "view_daily", "view_current", "view_case_marks")
    with engine.connect() as conn:
        found = conn.execute(
            text(
                "SELECT relname, reltuples::bigint, pg_total_relation_size(oid) FROM pg_class"
                " WHERE relname = ANY(:t) AND relkind = 'r'"
            ),
            {"t": list(tables)},
        ).fetchall()
    return ", ".join(f"{name} {rows:,} rows ({size / 2**30:.1f} GiB)" for name, rows, size in sorted(found))
