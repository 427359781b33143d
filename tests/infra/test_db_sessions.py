"""The services' database sessions, against the real PostgreSQL: no statement runs longer than 15 s, none is
JIT-compiled (a compile of 50-90 ms would cost more than the services' short reads themselves), plans are
made for the values at hand, a long filtered read's bitmap fits in memory, and the views' reading
connections keep the statements psycopg prepares (a transaction's ROLLBACK would clear them)."""

from __future__ import annotations

import asyncio

from sqlalchemy import Engine, text

from api.deps import _reading_connection
from infra.db import async_engine


def test_the_services_sessions_bound_statements_and_compile_none(database: Engine) -> None:
    async def settings() -> tuple[str, ...]:
        engine = async_engine()
        try:
            async with engine.connect() as conn:
                names = ("jit", "statement_timeout", "plan_cache_mode", "work_mem")
                return tuple([str((await conn.execute(text(f"SHOW {name}"))).scalar_one()) for name in names])
        finally:
            await engine.dispose()
            async_engine.cache_clear()

    assert asyncio.run(settings()) == ("off", "15s", "force_custom_plan", "64MB")
    with database.connect() as tools:  # the tools' sessions keep the server's defaults
        assert tools.execute(text("SHOW statement_timeout")).scalar_one() == "0"


def test_reading_connections_run_outside_a_transaction_and_keep_their_prepared_statements(
    database: Engine,
) -> None:
    statement = text("SELECT count(*) FROM areas WHERE code = :code")
    prepared = text(
        "SELECT count(*) FROM pg_prepared_statements"
        " WHERE statement LIKE 'SELECT count(*) FROM areas WHERE code%'"
    )
    # A setting made local to the transaction outlives its statement only inside a transaction.
    set_local = text("SELECT set_config('gridflow.probe', 'set', true)")
    still_set = text("SELECT coalesce(current_setting('gridflow.probe', true), '') = 'set'")

    async def run() -> dict[str, object]:
        engine = async_engine()
        try:
            backends, alone = set(), []
            for _ in range(7):  # psycopg prepares a statement on its fifth run on a connection
                async for conn in _reading_connection():
                    await conn.execute(statement, {"code": "210200000000"})
                    backends.add((await conn.execute(text("SELECT pg_backend_pid()"))).scalar_one())
                    await conn.execute(set_local)
                    alone.append(not (await conn.execute(still_set)).scalar_one())
                    kept = (await conn.execute(prepared)).scalar_one()
            # The same connection with a transaction: returning it to the pool rolls back, and psycopg then
            # forgets what it prepared (why the views read without one).
            async with engine.connect() as conn:
                backends.add((await conn.execute(text("SELECT pg_backend_pid()"))).scalar_one())
                await conn.execute(set_local)
                in_transaction = (await conn.execute(still_set)).scalar_one()
            async for conn in _reading_connection():
                after = (await conn.execute(prepared)).scalar_one()
            return {
                "backends": len(backends),
                "alone": alone,
                "kept": kept,
                "tx": in_transaction,
                "after": after,
            }
        finally:
            await engine.dispose()
            async_engine.cache_clear()

    got = asyncio.run(run())
    assert got["backends"] == 1  # one connection throughout: what it holds is its own
    assert got["alone"] == [True] * 7 and got["tx"] is True
    assert got["kept"] == 1 and got["after"] == 0
