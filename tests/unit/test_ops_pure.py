"""The pure parts of operations and the live feed: event ids, who sees an event, the lag, intake outcomes."""

from __future__ import annotations

import json

import pytest
from aiokafka import TopicPartition

from api.events.messages import in_subtree
from api.events.positions import BadPosition, decode, encode
from api.ops.lag import lag_by_partition
from api.ops.metrics import intake_outcomes
from stream.events import AreaCodes

NAMES = {"routed": "p.reports.routed", "triage": "p.reports.triage", "transitions": "p.cases.transitions"}
CITY = "210200000000"
PLACE = AreaCodes(
    city=CITY,
    district="210202000000",
    township="210202001000",
    community="210202001001",
    grid="2102020010010003",
)


def test_event_id_names_every_partition_and_reads_back_to_the_same_position():
    position = {TopicPartition(NAMES["routed"], p): 10 + p for p in range(4)}
    position |= {TopicPartition(NAMES["triage"], p): p for p in range(4)}
    position |= {TopicPartition(NAMES["transitions"], p): 7 for p in range(4)}
    event_id = encode(position, NAMES)
    assert event_id == "r:10.11.12.13;t:0.1.2.3;c:7.7.7.7"
    assert decode(event_id, NAMES) == position


@pytest.mark.parametrize("bad", ["x:1", "r:1.-2", "r:a", "garbage", "r:" + "1" * 30, "r:1." * 2000])
def test_an_id_we_did_not_write_is_refused(bad: str):
    with pytest.raises(BadPosition):
        decode(bad, NAMES)


@pytest.mark.parametrize(
    ("area_code", "seen"),
    [
        (CITY, True),
        ("210202000000", True),
        ("210202001000", True),
        ("210202001001", True),
        ("2102020010010003", True),
        ("210203000000", False),  # another district
        ("210202002000", False),  # another township of the same district
        ("2102020010010004", False),  # a neighbouring grid
    ],
)
def test_an_event_is_seen_from_its_own_areas_and_no_other(area_code: str, seen: bool):
    assert in_subtree(PLACE, area_code, CITY) is seen


def test_a_report_with_no_place_is_seen_by_the_city_dispatch_center_only():
    assert in_subtree(AreaCodes(), CITY, CITY)
    assert not in_subtree(AreaCodes(), "210202000000", CITY)


def test_lag_counts_the_topics_the_group_reads_from_its_commits_or_from_the_start():
    read, unread = "p.reports.submitted", "p.reports.deadletter"
    committed = {TopicPartition(read, 0): 90, TopicPartition(read, 1): -1}
    starts = {TopicPartition(read, 1): 5}
    ends = {TopicPartition(read, 0): 100, TopicPartition(read, 1): 8, TopicPartition(unread, 0): 50}
    assert lag_by_partition(committed, starts, ends) == {(read, 0): 10, (read, 1): 3}


def test_intake_outcomes_are_read_from_the_answer():
    dup = [(b"x-gridflow-duplicate", b"true")]
    assert intake_outcomes("/api/v1/reports", 202, [], b"{}") == [("accepted", "new")]
    assert intake_outcomes("/api/v1/reports", 202, dup, b"") == [("accepted", "duplicate")]
    assert intake_outcomes("/api/v1/reports", 409, [], b'{"error": "conflict"}') == [("refused", "conflict")]
    assert intake_outcomes("/api/v1/reports", 502, [], b"<html>") == [("refused", "502")]
    batch = {
        "results": [{"status": 202}, {"status": 202, "duplicate": True}, {"status": 422, "error": "invalid"}]
    }
    assert intake_outcomes("/api/v1/reports/batch", 207, [], json.dumps(batch).encode()) == [
        ("accepted", "new"),
        ("accepted", "duplicate"),
        ("refused", "invalid"),
    ]
