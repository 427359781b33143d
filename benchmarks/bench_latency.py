"""Latency end to end: reports offered at a steady rate (open loop: each request's clock starts when it was
due, not when a connection was free), and the time until each is visible — routed in the report's row (what
GET /api/v1/reports/{id} and the four-level view read), its case opened (the case row, and the view's
aggregates written in the same transaction), and for a sample, the GET itself answering with the decision.

A small HTTP/1.1 client on raw keep-alive connections (httpx tops out near 400 requests/s here); the database
is polled every POLL_S for the reports still in flight, so a figure is up to POLL_S late.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
import uuid
from dataclasses import dataclass, field

import psycopg

from benchmarks import bench_env as be

POLL_S = 0.05
# One report in this many is also followed through GET, every GET_POLL_S: a GET reads several tables, and
# following too many would load the API that is being measured.
SAMPLE_EVERY = 500
GET_POLL_S = 0.1
MAX_CONNECTIONS = 128  # beyond that, a request waits for a connection (and the wait counts)


@dataclass
class Latency:
    offered: int = 0
    accepted: int = 0
    refused: int = 0  # answered, but not 202
    refusals: dict[int, int] = field(default_factory=dict)  # by status
    failed: int = 0  # no answer: the connection failed
    unsent: int = 0  # not answered by the end of the settling time
    seconds: float = 0.0
    post_ms: list[float] = field(default_factory=list)
    routed_ms: list[float] = field(default_factory=list)
    case_ms: list[float] = field(default_factory=list)
    get_ms: list[float] = field(default_factory=list)
    unfinished: int = 0


class Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    async def request(self, head: bytes, body: bytes = b"") -> tuple[int, bytes]:
        self.writer.write(head + body)
        header = await self.reader.readuntil(b"\r\n\r\n")
        status = int(header[9:12])
        length = 0
        for line in header.split(b"\r\n"):
            if line[:15].lower() == b"content-length:":
                length = int(line[15:])
        return status, await self.reader.readexactly(length)


async def _connect(host: str, port: int) -> Connection:
    return Connection(*await asyncio.open_connection(host, port))


def _head(method: str, path: str, auth: str | None, length: int | None = None) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: bench", "Accept: application/json"]
    if auth:
        lines.append(f"Authorization: {auth}")
    if length is not None:
        lines += ["Content-Type: application/json", f"Content-Length: {length}"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


async def offer(
    port: int, auth: dict[str, str], codes: list[str], rate: float, seconds: float, settle_s: float = 30.0
) -> Latency:
    from stream.casework import open_command_id

    out = Latency()
    rng = random.Random()  # fresh report ids on every call (the warm-up too)
    bearer, reporter = auth.get("BENCH_AUTH"), auth.get("BENCH_REPORTER")
    free: asyncio.Queue[Connection] = asyncio.Queue()
    slots = asyncio.Semaphore(MAX_CONNECTIONS)
    sent: dict[uuid.UUID, float] = {}  # report_id → when it was due
    routed: dict[uuid.UUID, float] = {}  # waiting for the case: report_id → due time
    commands: dict[uuid.UUID, uuid.UUID] = {}  # open command id → report id
    done = asyncio.Event()

    async def post(due: float) -> None:
        body = be.report_body(codes, rng)
        if reporter:
            body["reporter_id"] = reporter
        data = json.dumps(body, ensure_ascii=False).encode()
        head = _head("POST", "/api/v1/reports", bearer, len(data))
        async with slots:  # a request due while all are busy waits, and its wait counts in its latency
            conn = free.get_nowait() if not free.empty() else None
            try:
                try:
                    conn = conn or await _connect("127.0.0.1", port)
                    status, _ = await conn.request(head, data)
                except (OSError, asyncio.IncompleteReadError):  # an idle connection the server closed
                    conn = await _connect("127.0.0.1", port)
                    status, _ = await conn.request(head, data)
            except (OSError, asyncio.IncompleteReadError):
                out.failed += 1
                return
            free.put_nowait(conn)
        out.post_ms.append((time.perf_counter() - due) * 1e3)
        if status == 202:
            rid = uuid.UUID(str(body["report_id"]))
            out.accepted += 1
            sent[rid] = due
            if out.accepted % SAMPLE_EVERY == 0:
                following.add(asyncio.create_task(follow(rid, due)))
        else:
            out.refused += 1
            out.refusals[status] = out.refusals.get(status, 0) + 1

    async def follow(rid: uuid.UUID, due: float) -> None:
        try:
            conn = await _connect("127.0.0.1", port)
        except OSError:
            return
        try:
            while not done.is_set():
                status, body = await conn.request(_head("GET", f"/api/v1/reports/{rid}", bearer))
                if status == 200 and json.loads(body)["status"] != "accepted":
                    out.get_ms.append((time.perf_counter() - due) * 1e3)
                    return
                await asyncio.sleep(GET_POLL_S)
        finally:
            conn.writer.close()

    async def poll() -> None:
        url = be.settings().database_url().replace("postgresql+psycopg://", "postgresql://")
        async with await psycopg.AsyncConnection.connect(url, autocommit=True) as db:
            while not done.is_set():
                now = time.perf_counter()
                if sent:
                    rows = await db.execute(
                        "SELECT report_id, case_id FROM reports"
                        " WHERE report_id = ANY(%s) AND status <> 'accepted'",
                        (list(sent),),
                    )
                    for rid, case_id in await rows.fetchall():
                        due = sent.pop(rid)
                        out.routed_ms.append((now - due) * 1e3)
                        routed[rid] = due
                        commands[open_command_id(case_id, rid)] = rid
                if commands:
                    rows = await db.execute(
                        "SELECT command_id FROM case_commands WHERE command_id = ANY(%s)", (list(commands),)
                    )
                    for (command_id,) in await rows.fetchall():
                        out.case_ms.append((now - routed.pop(commands.pop(command_id))) * 1e3)
                await asyncio.sleep(POLL_S)

    posting: set[asyncio.Task[None]] = set()
    following: set[asyncio.Task[None]] = set()
    poller = asyncio.create_task(poll())
    start = time.perf_counter()
    total = int(rate * seconds)
    for i in range(total):
        due = start + i / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        task = asyncio.create_task(post(due))
        posting.add(task)
        task.add_done_callback(posting.discard)
    out.offered = total
    out.seconds = time.perf_counter() - start
    deadline = time.perf_counter() + settle_s
    while (posting or sent or routed) and time.perf_counter() < deadline:  # noqa: ASYNC110 (shared state)
        await asyncio.sleep(0.1)
    await asyncio.sleep(4 * POLL_S)  # the sampled GETs see what the database shows
    done.set()
    out.unsent = len(posting)  # still waiting for a connection or an answer: the API fell behind
    for task in (*posting, *following):
        task.cancel()
    await poller
    await asyncio.gather(*following, *posting, return_exceptions=True)
    out.unfinished = len(sent) + len(routed)
    return out


def percentile(values: list[float], share: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]
