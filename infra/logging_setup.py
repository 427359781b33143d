"""How every gridflow process logs: one JSON object per line (or plain text on a terminal), to stderr or to a
rotating file of its own, with the report, case and command ids of the work at hand.

The same dictConfig serves the API (uvicorn's `log_config`, so uvicorn's own loggers propagate to it) and the
workers (applied before faust.Worker starts, which is then told not to set up logging itself).

An id reaches a line in one of two ways: `log.info(..., extra={"report_id": ...})` at the call, or
`with log_ids(case_id=...):` around the work, which every line logged inside it carries (contextvars, so
concurrent requests and agents do not mix them up).
"""

from __future__ import annotations

import fcntl
import json
import logging
import logging.config
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from logging.handlers import RotatingFileHandler
from pathlib import Path
from typing import IO, Any

from infra.settings import Settings

IDS = ("report_id", "case_id", "command_id")
# uvicorn's loggers keep handlers of their own unless told otherwise; they are to reach the root's instead.
UVICORN_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access")

_ids: ContextVar[dict[str, str]] = ContextVar("gridflow_log_ids", default={})  # noqa: B039 (never mutated)


@contextmanager
def log_ids(**ids: object) -> Iterator[None]:
    """Every line logged inside carries these ids (None values are left out)."""
    token = _ids.set({**_ids.get(), **{key: str(value) for key, value in ids.items() if value is not None}})
    try:
        yield
    finally:
        _ids.reset(token)


def ids_of(record: logging.LogRecord) -> dict[str, str]:
    """The ids a record carries: those given with `extra=` first, then those of the surrounding `log_ids`."""
    bound = _ids.get()
    found = {}
    for key in IDS:
        value = getattr(record, key, None) or bound.get(key)
        if value is not None:
            found[key] = str(value)
    return found


class JsonFormatter(logging.Formatter):
    """time, level, logger, message, the ids, and the traceback if any: one line, non-ASCII kept as is."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            **ids_of(record),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """For a person at a terminal: the classic line, with the ids at its end."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        ids = ids_of(record)
        if not ids:
            return line
        head, _, rest = line.partition("\n")  # after the message, before a traceback
        suffix = " ".join(f"{key}={value}" for key, value in ids.items())
        return f"{head} [{suffix}]" + (f"\n{rest}" if rest else "")


def chosen_format(settings: Settings) -> str:
    """`auto`: text when stderr is a terminal (someone is reading), JSON otherwise (a file, a collector)."""
    if settings.log_format != "auto":
        return settings.log_format
    if settings.log_file is None and sys.stderr.isatty():
        return "text"
    return "json"


def logging_config(settings: Settings) -> dict[str, Any]:
    """A logging.config.dictConfig for this process: stderr, or `log_file` rotated by size."""
    handler: dict[str, Any]
    if settings.log_file is None:
        handler = {"class": "logging.StreamHandler", "stream": "ext://sys.stderr"}
    else:
        handler = {
            "()": rotating_file,
            "path": str(settings.log_file),
            "max_bytes": settings.log_max_bytes,
            "backups": settings.log_backups,
        }
    handler["formatter"] = chosen_format(settings)
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": JsonFormatter}, "text": {"()": TextFormatter}},
        "handlers": {"main": handler},
        "root": {"level": settings.log_level.upper(), "handlers": ["main"]},
        "loggers": {name: {"handlers": [], "propagate": True} for name in UVICORN_LOGGERS},
    }


_claimed: dict[Path, tuple[Path, IO[str]]] = {}  # the log files this process writes, with their held locks


def claim(path: Path) -> Path:
    """The first of `api.log`, `api.1.log`, `api.2.log`… that no other live process writes.

    Two processes rotating one file would rename it under each other, so each takes a file of its own,
    marked by an flock held for its whole life (gone with it, however it ends). Several processes of one
    command (uvicorn --workers) share a name this way, and a restart takes the same files again, so the
    files stay bounded.
    """
    if path in _claimed:
        return _claimed[path][0]
    path.parent.mkdir(parents=True, exist_ok=True)
    for n in range(256):
        candidate = path if n == 0 else path.with_name(f"{path.stem}.{n}{path.suffix}")
        lock = candidate.with_name(f".{candidate.name}.lock").open("a")
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.close()
            continue
        _claimed[path] = (candidate, lock)
        return candidate
    raise RuntimeError(f"256 processes already write {path}")


def rotating_file(path: str, max_bytes: int, backups: int) -> logging.Handler:
    """A size-rotated file of this process's own (see `claim`)."""
    return RotatingFileHandler(claim(Path(path)), maxBytes=max_bytes, backupCount=backups, encoding="utf-8")


def configure_logging(settings: Settings) -> None:
    logging.config.dictConfig(logging_config(settings))
