"""The services' database sessions, against the real PostgreSQL: no statement runs longer than 15 s, and none
is JIT-compiled (a compile of 50-90 ms would cost more than the services' short reads themselves)."""

from __future__ import annotations

import asyncio

from sqlalchemy import Engine, text

from infra.db import async_engine


def test_the_services_sessions_bound_statements_and_compile_none(database: Engine) -> None:
    async def settings() -> tuple[str, str]:
        engine = async_engine()
        try:
            async with engine.connect() as conn:
                jit = (await conn.execute(text("SHOW jit"))).scalar_one()
                timeout = (await conn.execute(text("SHOW statement_timeout"))).scalar_one()
                return str(jit), str(timeout)
        finally:
            await engine.dispose()
            async_engine.cache_clear()

    assert asyncio.run(settings()) == ("off", "15s")
    with database.connect() as tools:  # the tools' sessions keep the server's defaults
        assert tools.execute(text("SHOW statement_timeout")).scalar_one() == "0"
