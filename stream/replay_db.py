"""The replay's scratch database: made with the live city's places and rules, then compared with the live
database row by row — by primary key, on every column that is a fact.

Each side streams (key, md5 of the row's facts as text) in key order from a server-side cursor, and the two
streams are merge-joined, so memory stays flat however many rows there are; only the rows shown as examples
are read whole. Both sessions render times in UTC, so equal rows give equal text.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from psycopg import IsolationLevel
from sqlalchemy import String, Table

from geo.models import areas, categories, departments, duty_rules, geo_versions, leaf_cells
from infra.migrate import upgrade
from infra.services.postgres_access import app_connect, drop_database
from infra.settings import Settings
from stream.tables import case_commands, case_history, case_transitions, cases, report_conflicts, reports

if TYPE_CHECKING:
    from stream.replay import Tracker

Key = tuple[Any, ...]
# The city's places and rules, in foreign-key order: not derived from the topics, copied as they stand.
PLACES = (areas, leaf_cells, categories, departments, duty_rules, geo_versions)
DERIVED = (reports, report_conflicts, case_transitions, cases, case_history, case_commands)
# The view's counts (view_daily, view_reports, ...) are not compared: they are sums of the tables above, kept
# in the transactions that write those (view_reports by triggers, which the replay's writes fire as the live
# ones do), and `gridflow view check` compares them with a recount of what they sum. Rows at n = 0 would
# make the same counts differ here.
# case_transitions' primary key is a serial, numbered in the order rows happened to be inserted (a replay
# inserts them in another order): the unique constraint that makes its writes idempotent is its identity.
NATURAL_KEYS = {"case_transitions": "case_transitions_once"}
IGNORED = {"case_transitions": frozenset({"id"})}


@dataclass
class TableDiff:
    table: str
    live: int = 0
    replayed: int = 0
    missing: int = 0  # in the live table only
    extra: int = 0  # in the rebuilt table only
    differing: int = 0
    missing_keys: list[Key] = field(default_factory=list)
    extra_keys: list[Key] = field(default_factory=list)
    # key → [(column, live value, rebuilt value)] for the first differing rows
    differences: dict[Key, list[tuple[str, str | None, str | None]]] = field(default_factory=dict)

    @property
    def same(self) -> bool:
        return not (self.missing or self.extra or self.differing)


def prepare_scratch(settings: Settings, name: str, tracker: Tracker) -> None:
    """A fresh database `name`, migrated, with the live city's places and rules (one consistent snapshot)."""
    tracker.phase("prepare", 2 + len(PLACES))
    drop_database(settings, name)
    upgrade(settings, name)  # created by the superuser (postgres_access), migrated as the app's role
    tracker.advance(2)

    with app_connect(settings, settings.pg_database) as live, app_connect(settings, name) as scratch:
        live.isolation_level = IsolationLevel.REPEATABLE_READ
        with scratch.transaction():
            scratch.execute("TRUNCATE " + ", ".join(t.name for t in PLACES))  # migrations seed geo_versions
            for table in PLACES:
                # The columns both have: a live database a migration behind leaves the new ones at default.
                known = set(_columns(live, table.name))
                columns = ", ".join(c for c in _columns(scratch, table.name) if c in known)
                with (
                    live.cursor().copy(
                        f"COPY (SELECT {columns} FROM {table.name}) TO STDOUT (FORMAT binary)"
                    ) as out,
                    scratch.cursor().copy(
                        f"COPY {table.name} ({columns}) FROM STDIN (FORMAT binary)"
                    ) as into,
                ):
                    for block in out:
                        into.write(block)
                tracker.advance(1)
            scratch.execute(
                "SELECT setval(pg_get_serial_sequence('duty_rules', 'id'), max(id)) FROM duty_rules"
            )


def drop_secondary_indexes(settings: Settings, name: str) -> list[str]:
    """Drop the derived tables' secondary indexes in the scratch database `name`; return their definitions,
    for `create_indexes` once the tables are filled. Building an index over a full table is several times
    cheaper than keeping it up to date row by row (a report is written twice, each time into seven
    indexes, one of them GiST). Primary keys and unique constraints stay: the idempotent writes rely on them
    (ON CONFLICT), and every lookup of the rebuild goes through them."""
    with app_connect(settings, name) as conn, conn.transaction():
        rows = conn.execute(
            "SELECT indexname, indexdef FROM pg_indexes i WHERE schemaname = 'public' AND tablename = ANY(%s)"
            " AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)"
            " AND indexdef NOT LIKE 'CREATE UNIQUE%%'",
            ([t.name for t in DERIVED],),
        ).fetchall()
        for index, _ in rows:
            conn.execute(f'DROP INDEX "{index}"')
    return [definition for _, definition in rows]


def create_indexes(settings: Settings, name: str, definitions: Iterable[str]) -> None:
    with app_connect(settings, name) as conn, conn.transaction():
        conn.execute("SET maintenance_work_mem = '256MB'")
        for definition in definitions:
            conn.execute(definition)


def _columns(conn: Any, table: str) -> list[str]:
    rows = conn.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_schema = 'public' AND table_name = %s"
        " ORDER BY ordinal_position",
        (table,),
    )
    return [row[0] for row in rows]


def key_columns(table: Table) -> tuple[str, ...]:
    if table.name in NATURAL_KEYS:
        (unique,) = [c for c in table.constraints if c.name == NATURAL_KEYS[table.name]]
        return tuple(c.name for c in unique.columns)  # type: ignore[attr-defined]
    return tuple(c.name for c in table.primary_key.columns)


def fact_columns(table: Table) -> list[str]:
    return [c.name for c in table.columns if c.name not in IGNORED.get(table.name, frozenset())]


def diff_sorted(
    table: str, live: Iterable[tuple[Key, str]], rebuilt: Iterable[tuple[Key, str]], *, examples: int
) -> TableDiff:
    """Merge-join two streams of (key, row hash), each sorted by key; count what differs, with examples."""
    diff = TableDiff(table)
    left, right = iter(live), iter(rebuilt)
    a, b = next(left, None), next(right, None)
    while a is not None or b is not None:
        if b is None or (a is not None and a[0] < b[0]):
            assert a is not None
            diff.live, diff.missing = diff.live + 1, diff.missing + 1
            _keep(diff.missing_keys, a[0], examples)
            a = next(left, None)
        elif a is None or b[0] < a[0]:
            diff.replayed, diff.extra = diff.replayed + 1, diff.extra + 1
            _keep(diff.extra_keys, b[0], examples)
            b = next(right, None)
        else:
            diff.live, diff.replayed = diff.live + 1, diff.replayed + 1
            if a[1] != b[1]:
                diff.differing += 1
                if len(diff.differences) < examples:
                    diff.differences[a[0]] = []
            a, b = next(left, None), next(right, None)
    return diff


def _keep(keys: list[Key], key: Key, examples: int) -> None:
    if len(keys) < examples:
        keys.append(key)


def _hashes(conn: Any, table: Table, tracker: Tracker) -> Iterator[tuple[Key, str]]:
    keys = key_columns(table)
    # Text keys in byte order ("C"), as Python compares str; uuids, times and numbers sort alike anyway.
    order = ", ".join(f'{k} COLLATE "C"' if isinstance(table.c[k].type, String) else k for k in keys)
    facts = ", ".join(fact_columns(table))
    with conn.cursor(name=f"replay_{table.name}") as cursor:
        cursor.itersize = 20_000
        cursor.execute(
            f"SELECT {', '.join(keys)}, md5(ROW({facts})::text) FROM {table.name} ORDER BY {order}"
        )
        n = 0
        for n, row in enumerate(cursor, 1):
            if n % 1000 == 0:
                tracker.advance(1000)
            yield tuple(row[:-1]), row[-1]
        tracker.advance(n % 1000)


def _values(conn: Any, table: Table, key: Key) -> dict[str, str | None]:
    columns = fact_columns(table)
    where = " AND ".join(f"{k} = %s" for k in key_columns(table))
    row = conn.execute(
        f"SELECT {', '.join(f'CAST({c} AS text)' for c in columns)} FROM {table.name} WHERE {where}", key
    ).fetchone()
    return dict(zip(columns, row, strict=True)) if row else {}


def compare(settings: Settings, database: str, *, examples: int, tracker: Tracker) -> list[TableDiff]:
    """Compare every derived table of the live database with the one rebuilt in `database`."""
    diffs = []
    with app_connect(settings, settings.pg_database) as live, app_connect(settings, database) as rebuilt:
        for conn in (live, rebuilt):
            conn.execute("SET TIME ZONE 'UTC'")
        for table in DERIVED:
            tracker.phase(f"compare {table.name}", None)
            diff = diff_sorted(
                table.name, _hashes(live, table, tracker), _hashes(rebuilt, table, tracker), examples=examples
            )
            for key in diff.differences:
                was, now = _values(live, table, key), _values(rebuilt, table, key)
                diff.differences[key] = [(c, was[c], now.get(c)) for c in was if was[c] != now.get(c)]
            diffs.append(diff)
    return diffs
