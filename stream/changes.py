"""An edit of boundaries, departments or duty rules: one transaction that writes the change, bumps its kind's
version and publishes an `AreaChange` to `areas.changes`, the log of every edit.

The event is sent, and acknowledged, before the commit: if the broker is away the edit is rolled back and
nothing changed. If the commit fails after the send, the log holds an event for a version PostGIS never
reached; that is harmless, because workers follow `geo_versions`, not the events.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime

from kafka import KafkaProducer
from kafka.errors import KafkaError
from sqlalchemy import Connection, Engine

from geo.versions import VersionKind, bump_version
from infra.settings import Settings
from stream.events import TOPICS, AreaChange
from stream.topics import ensure_topics

SEND_TIMEOUT_S = 10.0


class PublishFailed(RuntimeError):
    """The broker did not acknowledge the change; the edit was rolled back."""


def area_change(kind: VersionKind, version: int, *, actor: str, note: str) -> AreaChange:
    return AreaChange(kind=kind, version=version, actor=actor, at=datetime.now(UTC), note=note)


def change_record(settings: Settings, change: AreaChange) -> tuple[str, bytes, bytes]:
    """(topic, key, value) of a change: keyed by kind, so one kind's changes stay in order."""
    return settings.topic(TOPICS["area_changes"]), change.kind.encode(), change.model_dump_json().encode()


def publish_sync(settings: Settings, change: AreaChange) -> None:
    """Send one change and wait for the broker's acknowledgement (for the CLI, which has no event loop)."""
    topic, key, value = change_record(settings, change)
    try:
        ensure_topics(settings, deadline_s=SEND_TIMEOUT_S)
        producer = KafkaProducer(
            bootstrap_servers=settings.kafka_bootstrap,
            client_id="gridflow-cli",
            acks="all",
            max_block_ms=int(SEND_TIMEOUT_S * 1000),
            request_timeout_ms=int(SEND_TIMEOUT_S * 1000),
        )
    except KafkaError as exc:
        raise PublishFailed(
            f"消息队列不可用 Kafka at {settings.kafka_bootstrap} unreachable ({exc})"
        ) from exc
    try:
        producer.send(topic, key=key, value=value).get(timeout=SEND_TIMEOUT_S)
    except KafkaError as exc:
        raise PublishFailed(f"Kafka did not acknowledge the change on {topic} ({exc})") from exc
    finally:
        producer.close(timeout=5)


@dataclass
class Edit:
    conn: Connection
    version: int | None = None  # the kind's new version, once the edit is committed


@contextmanager
def edit(engine: Engine, settings: Settings, kind: VersionKind, *, actor: str, note: str) -> Iterator[Edit]:
    """A transaction for one edit: write through `.conn`; on leaving, the version is bumped, the change
    published and the transaction committed. Any error on the way rolls everything back."""
    with engine.begin() as conn:
        current = Edit(conn)
        yield current
        version = bump_version(conn, kind, actor=actor, note=note)
        publish_sync(settings, area_change(kind, version, actor=actor, note=note))
    current.version = version
