"""Topic administration with kafka-python: every topic is created explicitly with the configured partitions,
never left to the broker's auto-create (which would give one partition and no room to scale out)."""

from __future__ import annotations

import logging
import time

from kafka.admin import ConfigResource, ConfigResourceType, KafkaAdminClient, NewTopic
from kafka.errors import KafkaError, TopicAlreadyExistsError

from infra.settings import Settings
from stream.events import TOPICS

# The topics are the log of record (replaying them rebuilds every table): no time- or size-based deletion.
KEEP_FOREVER = {"retention.ms": "-1", "retention.bytes": "-1"}
log = logging.getLogger("gridflow.stream.topics")


def topic_names(settings: Settings) -> dict[str, str]:
    return {key: settings.topic(name) for key, name in TOPICS.items()}


def ensure_topics(settings: Settings, *, deadline_s: float = 60.0) -> list[str]:
    """Create any missing gridflow topic and keep every one forever; return the names created. Waits for the
    broker up to a deadline."""
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
        ours = list(topic_names(settings).values())
        keep_forever(admin, [name for name in ours if name in existing])
        wanted = [name for name in ours if name not in existing]
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


def keep_forever(admin: KafkaAdminClient, names: list[str]) -> list[str]:
    """Set KEEP_FOREVER on the topics that lack it (made before it, or by hand); return their names.

    A topic made with the broker's default would delete the log of record after 7 days (log.retention.hours).
    """
    if not names:
        return []
    keys = dict.fromkeys(KEEP_FOREVER)
    found = admin.describe_configs(
        [ConfigResource(ConfigResourceType.TOPIC, name, configs=dict(keys)) for name in names],
        config_filter="all",
    )["topic"]
    short = [
        name
        for name in names
        if any(found[name].get(k, {}).get("value") != v for k, v in KEEP_FOREVER.items())
    ]
    if short:
        # Incremental (only these keys) where the broker can, so the topics' other settings stay as they are.
        admin.alter_configs(
            [ConfigResource(ConfigResourceType.TOPIC, n, configs=dict(KEEP_FOREVER)) for n in short]
        )
        log.warning("topics of record set to keep forever (they had a retention): %s", ", ".join(short))
    return short
