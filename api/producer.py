"""The API's one Kafka producer: idempotent, acks=all, started lazily so the API comes up (and says 503)
while the broker is away, and recovers by itself when it returns."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from api.errors import BrokerUnavailable
from api.ops.metrics import PRODUCE_SECONDS
from infra.settings import Settings

log = logging.getLogger("gridflow.api.producer")
SEND_TIMEOUT_S = 10.0


class EventProducer:
    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._producer: AIOKafkaProducer | None = None
        self._lock = asyncio.Lock()

    async def _started(self) -> AIOKafkaProducer:
        async with self._lock:
            if self._producer is None:
                producer = AIOKafkaProducer(
                    bootstrap_servers=self._settings.kafka_bootstrap,
                    client_id="gridflow-api",
                    acks="all",
                    enable_idempotence=True,  # aiokafka leaves it off; a retried send must not duplicate
                    linger_ms=5,  # concurrent requests share batches
                    request_timeout_ms=int(SEND_TIMEOUT_S * 1000),
                )
                try:
                    await asyncio.wait_for(producer.start(), timeout=SEND_TIMEOUT_S)
                except (KafkaError, OSError, TimeoutError) as exc:
                    await producer.stop()
                    raise BrokerUnavailable("消息队列暂不可用，请稍后重试 (Kafka unreachable)") from exc
                self._producer = producer
            return self._producer

    async def send(self, topic: str, key: bytes, value: bytes) -> None:
        """Return only once the broker has acknowledged the record; raise BrokerUnavailable otherwise."""
        producer = await self._started()
        started = time.perf_counter()
        try:
            await asyncio.wait_for(
                producer.send_and_wait(topic, value=value, key=key), timeout=SEND_TIMEOUT_S
            )
            PRODUCE_SECONDS.labels(topic, "acked").observe(time.perf_counter() - started)
        except (KafkaError, OSError, TimeoutError) as exc:
            PRODUCE_SECONDS.labels(topic, "failed").observe(time.perf_counter() - started)
            log.warning("send to %s failed: %r", topic, exc)
            raise BrokerUnavailable("消息队列暂不可用，请稍后重试 (Kafka did not acknowledge)") from exc

    async def send_many(self, topic: str, records: Sequence[tuple[bytes, bytes]]) -> list[bool]:
        """Send (key, value) records together, so they share the producer's batches, and wait for every
        acknowledgement; True for each record the broker acknowledged. Never raises for the broker."""
        if not records:
            return []
        producer = await self._started()
        started = time.perf_counter()
        futures: list[asyncio.Future[Any]] = []
        try:
            async with asyncio.timeout(SEND_TIMEOUT_S):
                for key, value in records:
                    futures.append(await producer.send(topic, value=value, key=key))
                await asyncio.wait(futures)
        except (KafkaError, OSError, TimeoutError) as exc:
            log.warning(
                "batch send to %s failed after %d of %d records: %r", topic, len(futures), len(records), exc
            )
        acked = [f.done() and not f.cancelled() and f.exception() is None for f in futures]
        outcome = "acked" if len(futures) == len(records) and all(acked) else "failed"
        PRODUCE_SECONDS.labels(topic, outcome).observe(time.perf_counter() - started)  # one per batch
        return acked + [False] * (len(records) - len(futures))

    async def stop(self) -> None:
        if self._producer is not None:
            await self._producer.stop()
            self._producer = None
