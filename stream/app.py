"""The Faust application: one consumer group per deployment; scale out by adding workers up to the partition
count. At-least-once (exactly_once has open duplicate/crash reports), so every sink is idempotent."""

from __future__ import annotations

import faust

from infra.settings import get_settings
from stream.topics import topic_names

settings = get_settings()

app = faust.App(
    f"{settings.topic_prefix}{settings.worker_id}",
    broker=f"kafka://{settings.kafka_bootstrap}",
    key_serializer="raw",
    value_serializer="raw",  # pydantic JSON bytes, readable by any consumer (not faust.Record)
    topic_partitions=settings.topic_partitions,
    topic_replication_factor=1,
    producer_acks=-1,
    consumer_auto_offset_reset="earliest",
    broker_commit_interval=1.0,
    web_enabled=False,  # no per-worker web server: several workers share one machine
    # On stop (and on a rebalance) do not wait for in-flight events to be acknowledged: an agent retrying
    # against a missing database would hold the worker for as long as the outage lasts. Its batch stays
    # unacknowledged, so its offsets are not committed and the next owner reads it again (idempotent sinks).
    stream_wait_empty=False,
    autodiscover=False,
)

names = topic_names(settings)
submitted_topic = app.topic(names["submitted"], key_type=bytes, value_type=bytes)
routed_topic = app.topic(names["routed"], key_type=bytes, value_type=bytes)
triage_topic = app.topic(names["triage"], key_type=bytes, value_type=bytes)
decisions_topic = app.topic(names["routed"], names["triage"], key_type=bytes, value_type=bytes)
transitions_topic = app.topic(names["transitions"], key_type=bytes, value_type=bytes)
area_changes_topic = app.topic(names["area_changes"], key_type=bytes, value_type=bytes)
deadletter_topic = app.topic(names["deadletter"], key_type=bytes, value_type=bytes)
case_commands_topic = app.topic(names["case_commands"], key_type=bytes, value_type=bytes)
