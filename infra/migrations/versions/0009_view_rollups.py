"""view rollups: what the four-level view reads, in a handful of rows however many cases, reports and users

- `view_reports`: per area (each of a report's non-null codes, city to grid), status, category and department
  (`department_code` '' for none), the number of reports: the view's report totals.
- `view_grid_workers`: per area, the number of active grid workers that lie in it (a worker counts once in
  each area one of its grids, or its community, lies in): the view's staffing.
- `view_daily_total`: `view_daily` summed over category and department, per area, day and measure: the view
  without a category or department filter reads a row per area, day and measure instead of one per
  category and department too. Written by stream/aggregates.add_counts with `view_daily`, in the same
  transaction.
- `cases_running_deadline` (an index and the statistics of its expression): the deadline of each case whose
  clock runs, so that counting the open overdue cases reads the ones past their deadline, not every open
  case; `cases_judged_by_doc`: the open cases due_expr judges by fields of `doc`, the suspended ones and the
  handled ones whose deadline passed before their latest transition (api/cases/listing.py).

`view_reports` and `view_grid_workers` are kept by PostgreSQL itself, by statement-level triggers on
`reports` and `users` that read the statement's transition tables: an INSERT adds its rows, a DELETE
subtracts them, an UPDATE subtracts the old rows and adds the new ones (only net changes are written, so
the sink's `UPDATE reports SET case_id` or a sign-in writes nothing), a TRUNCATE empties the count. Every
writer (the sink, the replay, COPY, psql, the accounts store) keeps them so without knowing of them; a
session with `session_replication_role = replica` fires no trigger and would leave them behind. A row may
stay at n = 0: readers skip those. `gridflow view check` compares them with a recount.

The counts are upserted in key order (one statement per trigger firing, each ordered by the key), so two
transactions never wait for each other in a cycle, as stream/aggregates.py does for the case agent's counts.
An INSERT … ON CONFLICT DO UPDATE fires both the INSERT and the UPDATE trigger, two ordered statements whose
keys may interleave with another such statement's: a deadlock there is possible in principle (the sink would
need reports both new and already received in one batch, on two workers at once), and PostgreSQL ends it by
failing one transaction, which the agents retry as a transient failure (stream/isolation.py).

All three tables are filled here from what is stored. Stop the stream workers before migrating: a worker of
an earlier revision writes `view_daily` without the total (`gridflow view rebuild` mends that afterwards).

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

# The area codes of a report and of a case, city to grid, as they stood at this revision.
AREA_CODES = ("city_code", "district_code", "township_code", "community_code", "grid_code")
# geo.schemas.CODE_PREFIX as it stood: the digits that name a unit at each level above the grid.
PREFIXES = (4, 6, 9, 12)
# cases.states.TIMED_STATES as it stood (a migration keeps its own copy, since the enum may change later),
# sorted as api/cases/listing.running_deadline renders them: the planner uses an index on an expression
# only for that same expression.
TIMED_STATES = ("dispatched", "in_progress", "returned", "rework")
RUNNING_DEADLINE = f"(CASE WHEN state IN ({', '.join(repr(s) for s in TIMED_STATES)}) THEN deadline_at END)"
# Below the city: in the partial indexes' keys, a view's area is found in the index, not in the table.
CASE_AREAS = AREA_CODES[1:]


# The areas a report counts at: each of its non-null codes, with its status, category and department.
REPORT_AREAS = f"""
CREATE FUNCTION view_report_areas(r reports)
RETURNS TABLE (area_code varchar, status varchar, category varchar, department_code varchar)
LANGUAGE sql IMMUTABLE AS $$
SELECT a.code, r.status, r.category, coalesce(r.department_code, '')
FROM (VALUES {", ".join(f"(r.{code})" for code in AREA_CODES)}) AS a(code) WHERE a.code IS NOT NULL
$$"""
# The areas an active grid worker lies in, each once. A place is one of its grids or its community, and
# must be a code of digits (12, or more for a grid) to lie anywhere; it lies in the unit its code cut to a
# level's prefix names (padded with zeros, as geo.schemas.ancestor_code makes it), and a grid in itself. A
# place above a level cuts to itself, which it lies in already.
GRID_WORKER_AREAS = f"""
CREATE FUNCTION view_grid_worker_areas(u users) RETURNS SETOF varchar LANGUAGE sql IMMUTABLE AS $$
SELECT DISTINCT a.code
FROM jsonb_array_elements_text(
    CASE jsonb_typeof(u.grid_codes) WHEN 'array' THEN u.grid_codes ELSE '[]' END
    || jsonb_build_array(u.area_code)
) AS p(code)
CROSS JOIN LATERAL (
    VALUES {", ".join(f"(rpad(left(p.code, {n}), 12, '0'))" for n in PREFIXES)},
           (CASE WHEN length(p.code) > 12 THEN p.code END)
) AS a(code)
WHERE u.role = 'grid_worker' AND NOT u.disabled AND p.code ~ '^[0-9]{{12,}}$' AND a.code IS NOT NULL
$$"""

# count table → (the table it counts, its key, the function naming each counted row's keys)
COUNTS = {
    "view_reports": ("reports", "area_code, status, category, department_code", "view_report_areas"),
    "view_grid_workers": ("users", "area_code", "view_grid_worker_areas"),
}


def _rows(count: str, rows: str, sign: str) -> str:
    """What the rows of `rows` (a table of the counted table's rows) add to `count`, as +1 or -1 a key."""
    _, key, function = COUNTS[count]
    keys = ", ".join(f"a.{k}" for k in key.split(", "))
    return f"SELECT {keys}, {sign}1 AS n FROM {rows} AS t CROSS JOIN LATERAL {function}(t) AS a({key})"


def _add(count: str, change: str) -> str:
    """One statement adding the net `change` to the count table, in key order."""
    _, key, _ = COUNTS[count]
    return (
        f"INSERT INTO {count} ({key}, n) SELECT {key}, sum(n) FROM ({change}) AS change"
        f" GROUP BY {key} HAVING sum(n) <> 0 ORDER BY {key}"
        f" ON CONFLICT ({key}) DO UPDATE SET n = {count}.n + excluded.n"
    )


def _triggers(count: str) -> dict[str, tuple[str, str, str]]:
    """trigger (and function) name → (event, its transition tables, the statement it runs)."""
    new, old = "NEW TABLE AS new_rows", "OLD TABLE AS old_rows"
    added, taken = _rows(count, "new_rows", "+"), _rows(count, "old_rows", "-")
    return {
        f"{count}_inserted": ("INSERT", f"REFERENCING {new}", _add(count, added)),
        f"{count}_deleted": ("DELETE", f"REFERENCING {old}", _add(count, taken)),
        f"{count}_updated": ("UPDATE", f"REFERENCING {old} {new}", _add(count, f"{taken} UNION ALL {added}")),
        f"{count}_truncated": ("TRUNCATE", "", f"TRUNCATE {count}"),
    }


def _keep(count: str) -> None:
    """The triggers that keep `count`, then the fill: creating a trigger holds the counted table against
    writers until the commit, so the fill misses nothing and counts nothing twice."""
    table, _, _ = COUNTS[count]
    for name, (event, transition, statement) in _triggers(count).items():
        op.execute(
            f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$"
            f" BEGIN {statement}; RETURN NULL; END $$"
        )
        op.execute(
            f"CREATE TRIGGER {name} AFTER {event} ON {table} {transition}"
            f" FOR EACH STATEMENT EXECUTE FUNCTION {name}()"
        )
    op.execute(_add(count, _rows(count, table, "+")))
    op.execute(f"ANALYZE {count}")


def upgrade() -> None:
    op.create_table(
        "view_reports",
        sa.Column("area_code", sa.String(15), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("category", sa.String(8), nullable=False),
        sa.Column("department_code", sa.String(64), nullable=False),
        sa.Column("n", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("area_code", "status", "category", "department_code"),
    )
    op.execute(REPORT_AREAS)
    _keep("view_reports")
    op.create_table(
        "view_grid_workers",
        sa.Column("area_code", sa.String(15), primary_key=True),
        sa.Column("n", sa.BigInteger(), nullable=False),
    )
    op.execute(GRID_WORKER_AREAS)
    _keep("view_grid_workers")

    op.create_table(
        "view_daily_total",
        sa.Column("area_code", sa.String(15), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("measure", sa.String(24), nullable=False),
        sa.Column("n", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("area_code", "day", "measure"),
    )
    op.execute("LOCK TABLE view_daily IN SHARE MODE")  # no count moves during the fill
    op.execute(
        "INSERT INTO view_daily_total (area_code, day, measure, n)"
        " SELECT area_code, day, measure, sum(n) FROM view_daily GROUP BY 1, 2, 3 HAVING sum(n) <> 0"
    )
    op.execute("ANALYZE view_daily_total")

    # The statistics tell the planner how many running cases are past their deadline, which the deadlines
    # of the closed cases hide in the column's own; a partial index's expression gets none of its own.
    op.execute(f"CREATE STATISTICS cases_running_deadline ON {RUNNING_DEADLINE} FROM cases")
    op.create_index(
        "cases_running_deadline",
        "cases",
        [sa.text(RUNNING_DEADLINE), *CASE_AREAS],
        postgresql_where=sa.text(f"{RUNNING_DEADLINE} IS NOT NULL"),
    )
    op.create_index(
        "cases_judged_by_doc",
        "cases",
        ["state", *CASE_AREAS],
        postgresql_where=sa.text("state = 'suspended' OR (state = 'handled' AND deadline_at < updated_at)"),
    )
    op.execute("ANALYZE cases")


def downgrade() -> None:
    op.drop_index("cases_judged_by_doc", table_name="cases")
    op.drop_index("cases_running_deadline", table_name="cases")
    op.execute("DROP STATISTICS cases_running_deadline")
    op.drop_table("view_daily_total")
    for count, (table, _, function) in COUNTS.items():
        for name in _triggers(count):
            op.execute(f"DROP TRIGGER {name} ON {table}")
            op.execute(f"DROP FUNCTION {name}()")
        op.execute(f"DROP FUNCTION {function}({table})")
        op.drop_table(count)
