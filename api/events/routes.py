"""GET /api/v1/events?area_code=…: Server-Sent Events of an area's subtree — new reports (routed, triaged),
case transitions and escalations — live, and resumed from Last-Event-ID without gaps or repeats.

Frames: `id` (the client's position, api/events/positions.py), `event` (report.routed, report.triaged,
case.transitioned, case.escalated) and `data` (one JSON object). A comment `: ping` every
`events_ping_s` keeps proxies from closing a quiet stream. Control events: `reset` (a resume too far
behind: reload, then follow live) and `dropped` (the client read too slowly, or the feed stopped: reconnect
with the id it carries).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from functools import partial
from typing import Annotated

from aiokafka import TopicPartition
from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import StreamingResponse
from sqlalchemy import select

from accounts.scope import sees_area
from api.deps import CurrentPrincipal, SettingsDep
from api.errors import InvalidInput, NotFound
from api.events.feed import MAX_CATCH_UP, LiveFeed
from api.events.messages import LiveEvent, in_subtree
from api.events.positions import BadPosition, Position, decode, encode
from api.read_models import areas
from geo.schemas import level_of_code
from infra.db import async_engine
from infra.settings import Settings

router = APIRouter(prefix="/api/v1/events", tags=["events"])
RETRY_MS = 3000  # how long a browser's EventSource waits before it reconnects


async def visible_area(
    area_code: Annotated[str, Query(description="统计区划代码 or grid code: the subtree to follow")],
    principal: CurrentPrincipal,
) -> str:
    """The area whose subtree the caller follows: one it sees (accounts.scope.sees_area: a district its
    district and below, a grid worker its grids, the city roles everything). The one place the feed is
    scoped: the route and the feed take the area this gives. Anything else is answered as unknown (404),
    as the other routes answer what lies outside the caller's scope.
    """
    try:
        level_of_code(area_code)
    except ValueError as exc:
        raise InvalidInput(str(exc), field="query.area_code") from exc
    missing = NotFound(f"no area with code {area_code}", field="query.area_code")
    if not sees_area(principal, area_code):
        raise missing
    async with async_engine().connect() as conn:  # not ConnDep: a stream must not hold a connection
        known = (await conn.execute(select(areas.c.code).where(areas.c.code == area_code))).first()
    if known is None:
        raise missing
    return area_code


def _feed(request: Request) -> LiveFeed:
    feed: LiveFeed = request.app.state.live_feed
    return feed


VisibleArea = Annotated[str, Depends(visible_area)]
FeedDep = Annotated[LiveFeed, Depends(_feed)]


def _wants(area_code: str, city_code: str, event: LiveEvent) -> bool:
    return in_subtree(event.area, area_code, city_code)


@router.get(
    "",
    response_class=StreamingResponse,
    responses={
        200: {"content": {"text/event-stream": {}}, "description": "the stream"},
        503: {"description": "Kafka unreachable: retry later"},
    },
)
async def events(
    area_code: VisibleArea,
    feed: FeedDep,
    settings: SettingsDep,
    last_event_id: Annotated[str | None, Header(description="resume after this event's id")] = None,
) -> StreamingResponse:
    """实时动态: the area subtree's new reports, case transitions and escalations, as Server-Sent Events."""
    start: Position | None = None
    if last_event_id:
        try:
            start = decode(last_event_id, feed.names)
        except BadPosition as exc:
            raise InvalidInput(str(exc), field="header.last-event-id") from exc
    await feed.start()  # here, so that a broker away is a 503 and not a stream that ends at once
    wants = partial(_wants, area_code, settings.city_code)
    return StreamingResponse(
        _stream(feed, wants, start, settings),
        media_type="text/event-stream",
        # No caching, and no buffering by a proxy (nginx honours X-Accel-Buffering): each frame goes out now.
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


def _frame(event_id: str, kind: str, data: str) -> str:
    return f"id: {event_id}\nevent: {kind}\ndata: {data}\n\n"


def _control(names: dict[str, str], position: Position, kind: str, error: str, detail: str) -> str:
    body = json.dumps({"error": error, "detail": detail}, ensure_ascii=False)
    return _frame(encode(position, names), kind, body)


async def _stream(
    feed: LiveFeed, wants: Callable[[LiveEvent], bool], start: Position | None, settings: Settings
) -> AsyncIterator[str]:
    # Joined here, not in the route: only a stream that runs has a `finally` that leaves the feed again.
    joined = await feed.join(wants, start)
    names, position = feed.names, dict(joined.position)
    subscriber = joined.subscriber
    try:
        # The id alone (no data) sets the client's Last-Event-ID, so even a quiet stream resumes from here.
        yield f"retry: {RETRY_MS}\nid: {encode(position, names)}\n\n"
        if joined.catch_up > MAX_CATCH_UP:
            position = dict(joined.live_from)
            detail = f"断开期间有超过 {MAX_CATCH_UP} 条事件，请重新加载后继续 (too far behind: reload)"
            yield _control(names, position, "reset", "too_far_behind", detail)
        else:
            try:
                async for event in feed.missed(joined):
                    position[TopicPartition(event.topic, event.partition)] = event.offset + 1
                    yield _frame(encode(position, names), event.kind, event.data)
            except TimeoutError:
                detail = "补发中断，请携带 Last-Event-ID 重新连接 (catch-up stalled: reconnect)"
                yield _control(names, position, "dropped", "catch_up_stalled", detail)
                return
            # Every record before live_from was looked at: those the client does not see are behind it too.
            position = {tp: max(offset, joined.live_from[tp]) for tp, offset in position.items()}
        while True:
            if subscriber.dropped and subscriber.queue.empty():
                detail = "读取过慢或推送中断，请携带 Last-Event-ID 重新连接 (cut off: reconnect to resume)"
                yield _control(names, position, "dropped", "cut_off", detail)
                return
            try:
                item = await asyncio.wait_for(subscriber.queue.get(), timeout=settings.events_ping_s)
            except TimeoutError:
                yield ": ping\n\n"
                continue
            if item is None:
                continue  # a wake-up: the loop's head says why
            tp = TopicPartition(item.topic, item.partition)
            if item.offset < position.get(tp, 0):
                continue  # delivered already (the client resumed ahead of this process's feed)
            position[tp] = item.offset + 1
            yield _frame(encode(position, names), item.kind, item.data)
    finally:
        feed.leave(joined)
