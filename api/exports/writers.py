"""Streaming writers: CSV chunk by chunk as rows arrive, XLSX through openpyxl's write-only mode into a temp
file (rows go to disk as they are appended), then sent in chunks and deleted.

Rows arrive as an async iterator of batches (a server-side cursor's partitions); openpyxl's appends run in a
thread per batch so that the event loop keeps serving other requests while a large workbook is written.
"""

from __future__ import annotations

import asyncio
import csv
import io
import os
import tempfile
from collections.abc import AsyncIterator, Sequence
from typing import Any

from openpyxl import Workbook

CHUNK = 64 * 1024
Batches = AsyncIterator[Sequence[Sequence[Any]]]


async def csv_stream(headers: Sequence[str], batches: Batches) -> AsyncIterator[bytes]:
    """UTF-8 with a byte-order mark, so that Excel opens the Chinese text as such."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(headers)
    yield b"\xef\xbb\xbf" + out.getvalue().encode()
    async for batch in batches:
        out.seek(0)
        out.truncate()
        writer.writerows(batch)
        yield out.getvalue().encode()


async def xlsx_file(sheet: str, headers: Sequence[str], batches: Batches) -> str:
    """Write the rows into an XLSX temp file; its path (the caller deletes it)."""
    book = Workbook(write_only=True)
    ws = book.create_sheet(sheet)
    ws.append(list(headers))

    def append(batch: Sequence[Sequence[Any]]) -> None:
        for row in batch:
            ws.append(list(row))

    async for batch in batches:
        await asyncio.to_thread(append, batch)
    handle, path = tempfile.mkstemp(prefix="gridflow-export-", suffix=".xlsx")
    os.close(handle)
    try:
        await asyncio.to_thread(book.save, path)
    except BaseException:
        os.unlink(path)
        raise
    return path


async def file_stream(path: str) -> AsyncIterator[bytes]:
    """The file's bytes in chunks; the file is deleted once sent (or when the client goes away)."""
    try:
        with open(path, "rb") as fh:  # noqa: ASYNC230 (local temp file, read in 64 kB chunks)
            while chunk := fh.read(CHUNK):
                yield chunk
    finally:
        os.unlink(path)
