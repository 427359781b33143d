"""The live feed's fan-out without a broker: a slow client is cut off with its resume point, others go on."""

from __future__ import annotations

import asyncio

from aiokafka import TopicPartition

from api.events.feed import LiveFeed
from api.events.messages import LiveEvent
from api.events.positions import decode
from api.events.routes import _stream
from infra.settings import Settings
from stream.events import AreaCodes

SETTINGS = Settings(topic_prefix="unit.", events_queue_size=2, events_ping_s=0.05)
ROUTED = TopicPartition("unit.reports.routed", 0)


def event(offset: int) -> LiveEvent:
    return LiveEvent(
        ROUTED.topic, 0, offset, "report.routed", AreaCodes(city="210200000000"), f'{{"n":{offset}}}'
    )


async def run() -> tuple[list[str], list[str]]:
    feed = LiveFeed(SETTINGS)

    async def started() -> None:  # no broker: the feed stands at offset 10 of one partition
        feed._position = {ROUTED: 10}

    feed.start = started  # type: ignore[method-assign]
    slow = _stream(feed, lambda _: True, None, SETTINGS)
    fast = _stream(feed, lambda _: True, None, SETTINGS)
    slow_frames, fast_frames = [await anext(slow)], [await anext(fast)]  # both joined
    for offset in (10, 11, 12):
        feed._dispatch(event(offset))  # the third overflows both queues of size 2 ...
        fast_frames.append(await anext(fast))  # ... but the fast client reads each at once
    slow_frames += [frame async for frame in slow]
    await fast.aclose()
    return slow_frames, fast_frames


def test_a_slow_client_is_cut_off_with_its_position_and_the_others_go_on():
    slow, fast = asyncio.run(run())
    assert [f.split("\n")[1] for f in fast[1:]] == ["event: report.routed"] * 3
    assert [f.split("\n")[1] for f in slow[1:]] == ["event: report.routed"] * 2 + ["event: dropped"]
    last_id = slow[-1].split("\n")[0].removeprefix("id: ")
    names = {
        "routed": "unit.reports.routed",
        "triage": "unit.reports.triage",
        "transitions": "unit.cases.transitions",
    }
    assert decode(last_id, names)[ROUTED] == 12  # it resumes at the event it missed
