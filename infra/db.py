"""The one database engine (and session factory) per process, sync for tools, asyncio for the services."""

from __future__ import annotations

from functools import lru_cache

from sqlalchemy import Engine, create_engine
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine

from infra.settings import Settings, get_settings


def make_sync_engine(settings: Settings, database: str | None = None) -> Engine:
    return create_engine(settings.database_url(database), pool_pre_ping=True)


@lru_cache(maxsize=1)
def async_engine() -> AsyncEngine:
    # pool_pre_ping: after a database restart the pool's old connections are dead; test before use.
    # pool_timeout: a request that cannot get a connection within 5 s answers 503 (api/errors.py) instead of
    # queueing for half a minute; statement_timeout: no single query holds a connection longer than 15 s.
    # jit=off: the services' statements are short indexed reads and batched writes, but a plan estimated
    # above 100,000 (a count over millions of estimated rows) makes PostgreSQL compile it first, 50-90 ms
    # here, more than the query itself (measured on the view's reads with millions of cases).
    # plan_cache_mode=force_custom_plan: psycopg prepares a statement run five times on a connection (until a
    # ROLLBACK clears them: api/deps.py's reading connections run without one), and PostgreSQL would then
    # switch to a generic plan, which for the view's reads costs more than planning for the values at hand
    # (PostgreSQL CPU per district view at 300,000 cases: custom 3.3 ms, generic 4.0-4.1 ms, unprepared 3.8).
    # work_mem=64MB: a view filtered by department or category over a long period reads its days' rows of
    # view_daily through a bitmap of the pages that hold them; in the default 4 MB that bitmap turned lossy
    # and PostgreSQL rechecked every row of those pages (a district's department over a year at 10 million
    # cases: 18 million rows rechecked, 9.0 s; exact in 64 MB, 1.4 s). It is a ceiling per sort, hash or
    # bitmap, taken only by the reads that need it.
    return create_async_engine(
        get_settings().database_url(),
        pool_pre_ping=True,
        pool_size=5,
        max_overflow=5,
        pool_timeout=5,
        connect_args={
            "options": (
                "-c statement_timeout=15000 -c jit=off -c plan_cache_mode=force_custom_plan -c work_mem=64MB"
            )
        },
    )


@lru_cache(maxsize=1)
def session_factory() -> async_sessionmaker:  # type: ignore[type-arg]
    return async_sessionmaker(async_engine(), expire_on_commit=False)
