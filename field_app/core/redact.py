"""Keeping secrets out of logs: every log record is scrubbed of tokens and passwords when it is made.

The app never logs a token on purpose; this is the second line, for a library or a future line of code that
would. A record is redacted as it is created (a LogRecord factory), so every handler — the console, Kivy's
log file, a test's capture — only ever sees the scrubbed text. The live session's tokens are masked by value
(`remember`), and anything shaped like a JWT, a bearer header or a `password=` / `"refresh_token": ` pair by
pattern.
"""

from __future__ import annotations

import logging
import re
import threading
from typing import Any

MASK = "[已隐藏]"
_PATTERNS = (
    re.compile(r"eyJ[\w-]{4,}\.[\w-]{4,}\.[\w-]*"),  # a JWT: base64url header.payload.signature
    re.compile(r"(?i)(bearer\s+)[\w.~+/=-]+"),
    re.compile(
        r"(?i)((?:access_token|refresh_token|password|authorization)[\"']?\s*[:=]\s*[\"']?)[^\"'&\s,;}]+"
    ),
)
_MAX_REMEMBERED = 64

_lock = threading.Lock()
_secrets: list[str] = []
_installed = False


def remember(*values: str | None) -> None:
    """Mask these exact strings from now on (a session's tokens; old ones stay masked after a refresh)."""
    with _lock:
        for value in values:
            if value and len(value) >= 8 and value not in _secrets:
                _secrets.append(value)
        del _secrets[:-_MAX_REMEMBERED]


def redact(text: str) -> str:
    """`text` with every remembered secret and every token-shaped string replaced by MASK."""
    with _lock:
        secrets = list(_secrets)
    for secret in secrets:
        text = text.replace(secret, MASK)
    text = _PATTERNS[0].sub(MASK, text)
    for pattern in _PATTERNS[1:]:
        text = pattern.sub(lambda m: m.group(1) + MASK, text)
    return text


def _scrub(record: logging.LogRecord) -> None:
    try:
        message = record.getMessage()
    except Exception:  # a broken format string: keep what there is, still scrubbed
        message = f"{record.msg} {record.args}"
    record.msg, record.args = redact(message), ()
    if record.exc_info and not record.exc_text:
        record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
    if record.stack_info:
        record.stack_info = redact(record.stack_info)


def install() -> None:
    """Scrub every log record of this process from now on (idempotent)."""
    global _installed
    with _lock:
        if _installed:
            return
        _installed = True
    make = logging.getLogRecordFactory()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = make(*args, **kwargs)
        _scrub(record)
        return record

    logging.setLogRecordFactory(factory)
