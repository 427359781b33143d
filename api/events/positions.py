"""A live-feed client's place in the topics, written as its SSE event id.

The id is the vector of the next offset to deliver for every partition of every topic the feed reads, after
the event that carries it: `r:5.9.0.3;t:0.0.1.0;c:7.8.2.1` (reports.routed, reports.triage,
cases.transitions; one number per partition in partition order). It names a position, not an event, so any
API process can resume from it (offsets are the broker's), and a reconnect with it as Last-Event-ID reads
each partition from exactly there: nothing delivered twice, nothing skipped.
"""

from __future__ import annotations

from aiokafka import TopicPartition

# The feed's topics by their key in stream.topics.topic_names, and the letter each has in an id.
LETTERS = {"routed": "r", "triage": "t", "transitions": "c"}
MAX_ID_LENGTH = 4096  # a header no id of ours comes near; longer is not ours

Position = dict[TopicPartition, int]


class BadPosition(ValueError):
    pass


def encode(position: Position, names: dict[str, str]) -> str:
    """The id of `position`; `names` maps the keys of LETTERS to this deployment's topic names."""
    parts = []
    for key, letter in LETTERS.items():
        offsets = sorted((tp.partition, offset) for tp, offset in position.items() if tp.topic == names[key])
        parts.append(f"{letter}:" + ".".join(str(offset) for _, offset in offsets))
    return ";".join(parts)


def decode(event_id: str, names: dict[str, str]) -> Position:
    """The position an id names; raises BadPosition for anything we did not write."""
    if len(event_id) > MAX_ID_LENGTH:
        raise BadPosition("Last-Event-ID is too long")
    by_letter = {letter: names[key] for key, letter in LETTERS.items()}
    position: Position = {}
    for part in event_id.strip().split(";"):
        letter, sep, offsets = part.partition(":")
        if not sep or letter not in by_letter:
            raise BadPosition(f"unknown part {part[:20]!r} in Last-Event-ID")
        if not offsets:
            continue  # a topic without partitions
        for partition, offset in enumerate(offsets.split(".")):
            if not offset.isdigit() or len(offset) > 19:
                raise BadPosition(f"offset {offset[:20]!r} in Last-Event-ID is not a number")
            position[TopicPartition(by_letter[letter], partition)] = int(offset)
    return position
