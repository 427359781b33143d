"""Dependencies declared as Annotated types."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from api.producer import EventProducer
from infra.db import async_engine
from infra.settings import Settings, get_settings


async def _connection() -> AsyncIterator[AsyncConnection]:
    async with async_engine().connect() as conn:
        yield conn


def _producer(request: Request) -> EventProducer:
    producer: EventProducer = request.app.state.producer
    return producer


ConnDep = Annotated[AsyncConnection, Depends(_connection)]
ProducerDep = Annotated[EventProducer, Depends(_producer)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
# For routes that wait (a case action polls for its outcome): they take a connection per look instead of
# holding one for the whole request.
EngineDep = Annotated[AsyncEngine, Depends(async_engine)]
