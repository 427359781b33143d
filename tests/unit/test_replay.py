"""The replay's pure parts: merging partitions by record time, the merge-join of two tables, and the dates of
`stream reroute`. The whole replay runs against the real services in tests/e2e/test_replay.py."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import datetime, timedelta
from types import SimpleNamespace
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from aiokafka import TopicPartition

from stream.replay import merged
from stream.replay_db import diff_sorted
from stream.reroute import parse_when

SHANGHAI = ZoneInfo("Asia/Shanghai")


class FakeConsumer:
    """What `merged` uses of AIOKafkaConsumer, over fixed partitions; each fetch hands out `step` records."""

    def __init__(self, logs: dict[TopicPartition, list[int]], step: int = 2) -> None:
        # A record's timestamp is its value; offsets count from 0.
        self.logs = {
            tp: [SimpleNamespace(offset=i, timestamp=t) for i, t in enumerate(ts)] for tp, ts in logs.items()
        }
        self.step = step
        self.at: dict[TopicPartition, int] = {}

    def assign(self, partitions: Sequence[TopicPartition]) -> None:
        self.at = dict.fromkeys(partitions, 0)

    def seek(self, tp: TopicPartition, offset: int) -> None:
        self.at[tp] = offset

    async def getmany(
        self, *partitions: TopicPartition, timeout_ms: int = 0
    ) -> dict[TopicPartition, list[Any]]:
        found = {}
        for tp in partitions:
            records = self.logs[tp][self.at[tp] : self.at[tp] + self.step]
            if records:
                found[tp] = records
                self.at[tp] += len(records)
        return found

    async def position(self, tp: TopicPartition) -> int:
        return self.at[tp]


def read(consumer: FakeConsumer, ranges: dict[TopicPartition, tuple[int, int]], size: int) -> list[list[Any]]:
    async def collect() -> list[list[Any]]:
        return [batch async for batch in merged(consumer, ranges, size)]  # type: ignore[arg-type]

    return asyncio.run(collect())


A, B, C = (TopicPartition("t", p) for p in range(3))


def test_partitions_are_merged_by_record_time_and_each_keeps_its_order():
    logs = {A: [1, 4, 5, 9], B: [2, 3, 8], C: [6, 7]}
    batches = read(FakeConsumer(logs), {tp: (0, len(ts)) for tp, ts in logs.items()}, size=4)
    assert [len(b) for b in batches] == [4, 4, 1]
    assert [r.timestamp for b in batches for r in b] == list(range(1, 10))


def test_a_partition_whose_clock_runs_back_still_keeps_its_order():
    logs = {A: [5, 1], B: [3]}
    (batch,) = read(FakeConsumer(logs, step=1), {A: (0, 2), B: (0, 1)}, size=10)
    assert [(r.timestamp, r.offset) for r in batch] == [(3, 0), (5, 0), (1, 1)]


def test_records_written_after_the_snapshot_are_not_read():
    logs = {A: [1, 2, 3, 4], B: [1, 5]}
    (batch,) = read(FakeConsumer(logs, step=3), {A: (1, 3), B: (0, 0)}, size=10)
    assert [(r.timestamp, r.offset) for r in batch] == [(2, 1), (3, 2)]


def test_merge_join_counts_missing_extra_and_differing_rows_with_examples():
    live = [((1,), "a"), ((2,), "b"), ((3,), "c"), ((5,), "e")]
    rebuilt = [((2,), "b"), ((3,), "x"), ((4,), "d"), ((5,), "y")]
    diff = diff_sorted("cases", live, rebuilt, examples=1)
    assert (diff.live, diff.replayed, diff.missing, diff.extra, diff.differing) == (4, 4, 1, 1, 2)
    assert diff.missing_keys == [(1,)] and diff.extra_keys == [(4,)]
    assert list(diff.differences) == [(3,)]  # one example kept of the two
    assert not diff.same


def test_equal_tables_are_the_same():
    rows = [((i, "routed"), str(i)) for i in range(3)]
    assert diff_sorted("reports", rows, list(rows), examples=5).same


def test_a_day_is_read_in_the_city_time_zone_and_until_includes_it():
    assert parse_when("2026-12-01", end=False) == datetime(2026, 12, 1, tzinfo=SHANGHAI)
    assert parse_when("2026-12-01", end=True) == datetime(2026, 12, 2, tzinfo=SHANGHAI)
    assert parse_when("2026-12-01T08:30", end=False) == datetime(2026, 12, 1, 8, 30, tzinfo=SHANGHAI)
    at = parse_when("2026-12-01T00:00Z", end=False)
    assert at.utcoffset() == timedelta(0)


@pytest.mark.parametrize("value", ["last tuesday", "2026-13-01", "", "01/12/2026"])
def test_a_date_that_is_no_date_is_refused_with_an_example(value: str):
    with pytest.raises(ValueError, match="2026-12-01"):
        parse_when(value, end=False)
