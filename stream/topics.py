"""Topic administration with kafka-python: every topic is created explicitly with the configured partitions,
never left to the broker's auto-create (which would give one partition and no room to scale out)."""

from __future__ import annotations

import time

from kafka.admin import KafkaAdminClient, NewTopic
from kafka.errors import KafkaError, TopicAlreadyExistsError

from infra.settings import Settings
from stream.events import TOPICS

# The topics are the log of record (replaying them rebuilds every table): no time- or size-based deletion.
KEEP_FOREVER = {"retention.ms": "-1", "retention.bytes": "-1"}


def topic_names(settings: Settings) -> dict[str, str]:
    return {key: settings.topic(name) for key, name in TOPICS.items()}


def ensure_topics(settings: Settings, *, deadline_s: float = 60.0) -> list[str]:
    """Create any missing gridflow topic; return the names created. Waits for the broker up to a deadline."""
    start = time.monotonic()
    while True:
        try:
            admin = KafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap, client_id="gridflow-admin")
            break
        except KafkaError:
            if time.monotonic() - start > deadline_s:
                raise
            time.sleep(0.5)
    try:
        existing = set(admin.list_topics())
        wanted = [name for name in topic_names(settings).values() if name not in existing]
        created = []
        for name in wanted:
            try:
                admin.create_topics(
                    [
                        NewTopic(
                            name,
                            num_partitions=settings.topic_partitions,
                            replication_factor=1,
                            topic_configs=KEEP_FOREVER,
                        )
                    ]
                )
                created.append(name)
            except TopicAlreadyExistsError:
                pass  # another process won the race
        return created
    finally:
        admin.close()
