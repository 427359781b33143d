"""Batched upserts that send a whole batch as one JSON parameter, expanded server-side by jsonb_to_recordset.

SQLAlchemy's executemany renders 500 wide rows as one statement of about 15,000 bind parameters (450 kB of
SQL, parsed by psycopg and by the server on every batch); one small statement with one parameter is several
times faster, and its text is built once per table and reused.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from functools import cache
from typing import Any
from uuid import UUID

import orjson
from geoalchemy2 import Geometry
from sqlalchemy import Table, TextClause, text
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncConnection

_DIALECT = postgresql.dialect()  # type: ignore[no-untyped-call]


def _json_default(value: object) -> str:
    # orjson writes datetimes (RFC 3339, with the offset) and UUIDs itself; anything else is a bug.
    if isinstance(value, datetime | UUID):
        return str(value) if isinstance(value, UUID) else value.isoformat()
    raise TypeError(f"cannot send {type(value).__name__} in a bulk batch")


@cache
def _statement(
    table: Table, columns: tuple[str, ...], conflict: str, update: tuple[str, ...], where: str, returning: str
) -> TextClause:
    spec, values = [], []
    for name in columns:
        column = table.c[name]
        if isinstance(column.type, Geometry):
            spec.append(f"{name} text")  # EWKT in the batch
            values.append(f"ST_GeomFromEWKT(r.{name})")
        else:
            spec.append(f"{name} {column.type.compile(_DIALECT)}")
            values.append(f"r.{name}")
    sql = (
        f"INSERT INTO {table.name} ({', '.join(columns)}) "
        f"SELECT {', '.join(values)} FROM jsonb_to_recordset(CAST(:batch AS jsonb)) AS r({', '.join(spec)}) "
        f"ON CONFLICT {conflict} "
    )
    if update:
        sql += f"DO UPDATE SET {', '.join(f'{c} = excluded.{c}' for c in update)}"
        sql += f" WHERE {where}" if where else ""
    else:
        sql += "DO NOTHING"
    if returning:
        sql += f" RETURNING {returning}"
    return text(sql)


async def bulk_upsert(
    conn: AsyncConnection,
    table: Table,
    rows: Sequence[Mapping[str, Any]],
    *,
    conflict: str,
    update: Iterable[str] = (),
    where: str = "",
    returning: str = "",
) -> list[Any]:
    """Insert `rows` (all with the same keys); on `conflict` (e.g. `(report_id)`) update `update` columns
    where `where` holds, or do nothing. Returns the `returning` column of the rows written."""
    if not rows:
        return []
    statement = _statement(table, tuple(rows[0]), conflict, tuple(update), where, returning)
    # orjson: the standard library's encoder with `default=` cost a tenth of the replay's time; numpy
    # scalars (a distance from shapely) pass as numbers, as they did through json (float64 is a float).
    batch = orjson.dumps(list(rows), default=_json_default, option=orjson.OPT_SERIALIZE_NUMPY).decode()
    result = await conn.execute(statement, {"batch": batch})
    return list(result.scalars()) if returning else []
