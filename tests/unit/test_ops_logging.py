"""Logs: one JSON object per line with the ids of the work at hand, rotated by size into bounded files."""

from __future__ import annotations

import json
import logging
import logging.config
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from infra.logging_setup import JsonFormatter, TextFormatter, claim, log_ids, logging_config
from infra.settings import Settings


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    for handler in root.handlers:
        if handler not in handlers:
            handler.close()
    root.handlers[:] = handlers
    root.setLevel(level)


def record(message: str, **extra: object) -> logging.LogRecord:
    made = logging.LogRecord("gridflow.test", logging.INFO, __file__, 1, message, None, None)
    made.__dict__.update(extra)
    return made


def test_json_line_carries_time_level_logger_message_and_the_ids_given_or_bound():
    with log_ids(case_id="c-1", command_id=None):
        line = JsonFormatter().format(record('报告已派遣 "x"\nnext', report_id="r-1"))
    assert "\n" not in line
    entry = json.loads(line)
    assert entry["level"] == "INFO" and entry["logger"] == "gridflow.test"
    assert entry["message"] == '报告已派遣 "x"\nnext'
    assert entry["report_id"] == "r-1" and entry["case_id"] == "c-1" and "command_id" not in entry
    assert entry["time"].endswith("+00:00")


def test_ids_bound_by_log_ids_end_with_the_block():
    with log_ids(report_id="r-2"):
        pass
    assert "report_id" not in json.loads(JsonFormatter().format(record("m")))


def test_text_line_puts_the_ids_at_its_end():
    assert TextFormatter().format(record("routed", report_id="r-3")).endswith("routed [report_id=r-3]")


def test_log_file_rotates_at_its_size_and_keeps_the_configured_backups(tmp_path: Path, restore_logging: None):
    log_file = tmp_path / "worker-1.log"
    settings = Settings(log_file=log_file, log_max_bytes=1024, log_backups=2, log_format="json")
    logging.config.dictConfig(logging_config(settings))
    log = logging.getLogger("gridflow.test.rotation")
    for n in range(200):
        log.info("line %d of a long-running demo", n, extra={"report_id": f"r-{n}"})
    files = sorted(path.name for path in tmp_path.iterdir() if not path.name.startswith("."))
    assert files == ["worker-1.log", "worker-1.log.1", "worker-1.log.2"]
    assert all((tmp_path / name).stat().st_size <= 1024 for name in files)
    last = json.loads(log_file.read_text().splitlines()[-1])
    assert last["report_id"] == "r-199"


def test_processes_sharing_a_log_setting_each_write_a_file_of_their_own(tmp_path: Path):
    path = tmp_path / "api.log"
    assert claim(path) == claim(path)  # this process keeps its file
    code = (
        f"from pathlib import Path; from infra.logging_setup import claim; print(claim(Path({str(path)!r})))"
    )
    other = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert Path(other.stdout.strip()) == tmp_path / "api.1.log"
    again = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert Path(again.stdout.strip()) == tmp_path / "api.1.log"  # the ended process's file is taken again
