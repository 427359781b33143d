"""Process plumbing shared by the services: liveness, detached start, signals, waiting, log tails."""

from __future__ import annotations

import contextlib
import fcntl
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path


class ServiceError(RuntimeError):
    """A service could not be started or stopped; carries the tail of its logs for the operator."""

    def __init__(self, service: str, message: str, *, log_tail: str = "") -> None:
        super().__init__(f"{service}: {message}")
        self.service = service
        self.log_tail = log_tail


@dataclass(frozen=True)
class ServiceStatus:
    name: str
    running: bool
    pid: int | None
    port: int
    answering: bool
    log_path: Path
    detail: str = ""

    @property
    def healthy(self) -> bool:
        return self.running and self.answering


def _state(stat_file: Path) -> str | None:
    try:
        stat = stat_file.read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    # The state letter follows the parenthesised command name, which may itself contain spaces.
    return stat.rsplit(")", 1)[1].split()[0]


def pid_alive(pid: int | None) -> bool:
    """True while any thread of the process still runs.

    PID 1 on these machines does not reap orphans, so a killed daemon stays a zombie forever and
    `kill(pid, 0)` alone would still call it alive. And the main thread of a JVM turns zombie before
    its other threads finish dying and close the listening sockets, so every thread is looked at.
    """
    if not pid or pid <= 0:
        return False
    states = [_state(task / "stat") for task in Path(f"/proc/{pid}/task").glob("*")]
    return any(state not in (None, "Z", "X") for state in states)


def cmdline(pid: int) -> list[str]:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return []
    return [part.decode(errors="replace") for part in raw.split(b"\0") if part]


def find_process(*needles: str) -> int | None:
    """A live process whose command line holds every needle: finds a daemon whose pid file was lost."""
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            args = cmdline(int(entry.name))
            if args and all(needle in args for needle in needles) and pid_alive(int(entry.name)):
                return int(entry.name)
    return None


@contextmanager
def locked(path: Path) -> Iterator[None]:
    """Serialise starts and stops of one service across processes (engineers and test runs share it)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def read_pid(path: Path) -> int | None:
    """First line of a pid file (ours, or PostgreSQL's postmaster.pid), or None."""
    try:
        first = path.read_text().splitlines()[0].strip()
        return int(first)
    except (FileNotFoundError, IndexError, ValueError, PermissionError):
        return None


def spawn_detached(argv: list[str], *, log_path: Path, cwd: Path) -> int:
    """Start argv in its own session, re-parented away from us, output appended to log_path; return its pid.

    The shell backgrounds the command and exits at once, so the daemon survives the caller (a CLI run
    or a test session) and never becomes our zombie.
    """
    script = 'log=$1; shift; "$@" </dev/null >>"$log" 2>&1 & echo $!'
    done = subprocess.run(
        ["/bin/sh", "-c", script, "sh", str(log_path), *argv],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=True,
        start_new_session=True,
        timeout=30,
    )
    return int(done.stdout.strip())


def send_signal(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)


def children(pid: int) -> list[int]:
    """Live direct children of pid, found through /proc (each stat line carries the parent pid)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
        if int(fields[1]) == pid and pid_alive(int(stat.parent.name)):
            found.append(int(stat.parent.name))
    return found


def wait_for_exit(pid: int, timeout: float) -> bool:
    return wait_until(lambda: not pid_alive(pid), timeout=timeout, interval=0.1)


def wait_until(predicate: Callable[[], bool], *, timeout: float, interval: float = 0.25) -> bool:
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)


def port_in_use(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def tail(path: Path, lines: int = 40, *, skip_indented: bool = False) -> str:
    """The last lines of a log file, read from its end so that a large log costs nothing.

    skip_indented drops continuation lines, such as the hundreds of config values Kafka logs at start,
    which would push the lines that explain a failure out of the tail.
    """
    try:
        with path.open("rb") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            handle.seek(max(0, size - 64 * 1024))
            data = handle.read()
    except FileNotFoundError:
        return f"(no log at {path})"
    text = data.decode(errors="replace").splitlines()
    if skip_indented:
        text = [line for line in text if not line.startswith(("\t", " "))]
    text = text[-lines:]
    return f"--- {path} ---\n" + "\n".join(text)
