"""Telling transient failures from permanent ones, and keeping one bad event from stopping its partition.

A transient failure is a service away (the database restarting, the broker unreachable, a pool timeout):
the same work will pass later, so it is retried in place with backoff, and the batch's offsets wait.
Anything else is permanent for the events that caused it: data the database refuses (a NUL character, a
value out of range), or a bug that one event hits in the router or the sink. Retrying those would loop
forever, so the batch is split in halves until the failing events stand alone; those are set aside (dead
letter, and the report to triage with the reason) and the rest of the batch goes on.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

from aiokafka.errors import (
    InvalidMessageError,
    KafkaError,
    MessageSizeTooLargeError,
    RecordListTooLargeError,
    RecordTooLargeError,
)
from sqlalchemy.exc import DBAPIError, DisconnectionError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

log = logging.getLogger("gridflow.stream")
T = TypeVar("T")
R = TypeVar("R")

BACKOFF_START_S, BACKOFF_MAX_S = 0.2, 5.0


# The broker refuses these records for what they are, not because it is away.
_PERMANENT_KAFKA = (
    MessageSizeTooLargeError,
    RecordTooLargeError,
    RecordListTooLargeError,
    InvalidMessageError,
)


def is_transient(exc: BaseException) -> bool:
    """True for a failure of a service (retry), False for one the data or the code caused (set aside)."""
    if isinstance(exc, _PERMANENT_KAFKA):
        return False
    if isinstance(exc, OperationalError | InterfaceError | DisconnectionError | PoolTimeout):
        return True
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    return isinstance(exc, OSError | ConnectionError | TimeoutError | KafkaError)


async def retrying(what: str, step: Callable[[], Awaitable[T]]) -> T:
    """Run `step` until it succeeds or fails permanently (that exception is raised). A cancellation — the
    worker stopping — ends the wait at once; the batch is then not acknowledged and is read again."""
    delay = BACKOFF_START_S
    while True:
        try:
            return await step()
        except Exception as exc:
            if not is_transient(exc):
                raise
            log.warning("%s failed (%s: %s); retrying in %.1fs", what, type(exc).__name__, exc, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, BACKOFF_MAX_S)


async def isolating(
    what: str,
    items: Sequence[T],
    step: Callable[[Sequence[T]], Awaitable[list[R]]],
    set_aside: Callable[[T, Exception], Awaitable[None]],
) -> list[R]:
    """`step` over the whole batch, retried while the failure is transient; on a permanent failure the batch
    is split in halves until each failing item is alone, and that item goes to `set_aside` with its error.

    `step` must be idempotent and atomic per call (one transaction): a half that passed is not undone when
    its sibling fails. A batch with one poison event costs about 2·log2(n) extra calls.
    """
    if not items:
        return []
    try:
        return await retrying(what, lambda: step(items))
    except Exception as exc:
        if len(items) == 1:
            log.error("%s: setting one event aside after a permanent failure: %r", what, exc)
            await set_aside(items[0], exc)
            return []
        log.warning("%s: permanent failure in a batch of %d (%r); splitting it", what, len(items), exc)
    middle = len(items) // 2
    first = await isolating(what, items[:middle], step, set_aside)
    return first + await isolating(what, items[middle:], step, set_aside)
