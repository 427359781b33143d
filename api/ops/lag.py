"""The workers' backlog: how far their consumer group's committed offsets lag behind the end of each gridflow
topic partition, read with aiokafka's admin client and a group-less consumer, and kept for a few seconds so
that /ready and /metrics cost one look per `lag_cache_s` however often they are asked.

The group is the Faust app's id (`stream/app.py`: topic prefix + worker id). Only the topics the group has
committed offsets on count: the workers read no others (the dead letters and `cases.transitions` are for
people and the live feed). Within those, a partition the group has not committed yet lags from its start.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import TypeVar

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from infra.settings import Settings
from stream.topics import topic_names

log = logging.getLogger("gridflow.api.ops")
T = TypeVar("T")


@dataclass(frozen=True)
class Lag:
    by_partition: dict[tuple[str, int], int]
    read_at: float  # time.monotonic()

    @property
    def total(self) -> int:
        return sum(self.by_partition.values())


def worker_group(settings: Settings) -> str:
    return f"{settings.topic_prefix}{settings.worker_id}"


def lag_by_partition(
    committed: dict[TopicPartition, int], starts: dict[TopicPartition, int], ends: dict[TopicPartition, int]
) -> dict[tuple[str, int], int]:
    """end − committed per partition of the topics the group has committed on (from the start if none yet)."""
    read_topics = {tp.topic for tp, offset in committed.items() if offset >= 0}
    lag = {}
    for tp, end in ends.items():
        if tp.topic not in read_topics:
            continue
        position = committed.get(tp, -1)
        if position < 0:
            position = starts.get(tp, 0)
        lag[(tp.topic, tp.partition)] = max(0, end - position)
    return lag


class KafkaProbe:
    """One admin client and one consumer per API process, started on first use and dropped after a failure
    (the next look starts afresh, so a broker that restarted is found again)."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._admin: AIOKafkaAdminClient | None = None
        self._consumer: AIOKafkaConsumer | None = None
        self._lock = asyncio.Lock()
        self._lag: Lag | None = None

    async def _clients(self) -> tuple[AIOKafkaAdminClient, AIOKafkaConsumer]:
        if self._admin is None or self._consumer is None:
            timeout_ms = int(self._settings.ready_timeout_s * 1000)
            bootstrap = self._settings.kafka_bootstrap
            admin = AIOKafkaAdminClient(
                bootstrap_servers=bootstrap, client_id="gridflow-ops", request_timeout_ms=timeout_ms
            )
            consumer = AIOKafkaConsumer(
                bootstrap_servers=bootstrap,
                client_id="gridflow-ops",
                group_id=None,
                enable_auto_commit=False,
                request_timeout_ms=max(timeout_ms, 1000),
            )
            try:
                await admin.start()
                await consumer.start()
            except BaseException:
                await _close(admin, consumer)
                raise
            self._admin, self._consumer = admin, consumer
        return self._admin, self._consumer

    async def answers(self) -> None:
        """A metadata request within the timeout; raises if the broker does not answer."""
        async with self._lock:
            await self._bounded(self._describe_cluster())

    async def _describe_cluster(self) -> None:
        admin, _ = await self._clients()
        cluster = await admin.describe_cluster()
        if not cluster.get("brokers"):
            raise ConnectionError("the cluster lists no broker")

    async def lag(self) -> Lag:
        """The group's lag, at most `lag_cache_s` old; raises if it cannot be read now and none is cached."""
        async with self._lock:
            cached = self._lag
            if cached is not None and time.monotonic() - cached.read_at < self._settings.lag_cache_s:
                return cached
            self._lag = await self._bounded(self._read_lag())
            return self._lag

    async def _read_lag(self) -> Lag:
        admin, consumer = await self._clients()
        names = list(topic_names(self._settings).values())
        described = await admin.describe_topics(names)
        partitions = [
            TopicPartition(topic["topic"], part["partition"])
            for topic in described
            if not topic["error_code"]
            for part in topic["partitions"]
        ]
        offsets = await admin.list_consumer_group_offsets(worker_group(self._settings))
        committed = {tp: meta.offset for tp, meta in offsets.items()}
        ends = await consumer.end_offsets(partitions)
        starts = await consumer.beginning_offsets([tp for tp in partitions if committed.get(tp, -1) < 0])
        return Lag(lag_by_partition(committed, starts, ends), time.monotonic())

    async def _bounded(self, work: Awaitable[T]) -> T:
        try:
            return await asyncio.wait_for(work, timeout=self._settings.ready_timeout_s)
        except BaseException:
            await self.close()
            raise

    async def close(self) -> None:
        admin, consumer = self._admin, self._consumer
        self._admin = self._consumer = None
        await _close(admin, consumer)


async def _close(admin: AIOKafkaAdminClient | None, consumer: AIOKafkaConsumer | None) -> None:
    for client in (consumer, admin):
        if client is None:
            continue
        try:
            await (client.stop() if isinstance(client, AIOKafkaConsumer) else client.close())
        except Exception as exc:  # closing a client of a broker that is gone may fail; nothing to do about it
            log.debug("closing a Kafka client failed: %r", exc)
