"""PostgreSQL 15 + PostGIS 3 from Debian's packages, in a cluster of the project's own under the state dir.

We run as root, and PostgreSQL refuses to: every server command runs as the `postgres` OS user.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shlex
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql

from infra.services._process import (
    ServiceError,
    ServiceStatus,
    children,
    cmdline,
    locked,
    pid_alive,
    port_in_use,
    read_pid,
    send_signal,
    tail,
    wait_for_exit,
)
from infra.settings import Settings, get_settings

NAME = "postgres"
BIN = Path("/usr/lib/postgresql/15/bin")
OS_USER = "postgres"
SUPERUSER = "postgres"  # the bootstrap superuser initdb creates; used only to create the app's role
DEFAULT_DATABASE = str(Settings.model_fields["pg_database"].default)

# Loaded through `include` from postgresql.conf; port, socket dir and listen address come on the
# command line so that they always follow the settings.
SERVER_CONF = """\
# Written by infra/services/postgres.py on every start; edit there, not here.
shared_buffers = '128MB'
max_connections = 100
fsync = on
synchronous_commit = on
max_wal_size = '512MB'
log_line_prefix = '%m [%p] %q%u@%d '
log_min_duration_statement = 2000
"""

# Trust for everyone, on purpose: this is a loopback-only dev/test cluster (listen_addresses=127.0.0.1,
# socket in the project's state dir), and tests connect as different roles without passwords.
HBA_CONF = """\
# Written by infra/services/postgres.py: a loopback-only dev/test cluster, so trust is acceptable.
local all all trust
host  all all 127.0.0.1/32 trust
"""


@dataclass(frozen=True)
class PostgresPaths:
    root: Path
    data: Path
    run: Path  # the Unix socket's folder
    logs: Path
    log_file: Path
    pid_file: Path  # the server's own postmaster.pid
    lock_file: Path


def paths(s: Settings | None = None) -> PostgresPaths:
    root = (s or get_settings()).state_dir.resolve() / "postgres"
    data, logs = root / "data", root / "logs"
    return PostgresPaths(
        root=root,
        data=data,
        run=root / "run",
        logs=logs,
        log_file=logs / "postgres.log",
        pid_file=data / "postmaster.pid",
        lock_file=root / "service.lock",
    )


def _as_postgres(argv: list[str], *, cwd: Path, timeout: float) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["runuser", "-u", OS_USER, "--", *argv], cwd=cwd, capture_output=True, text=True, timeout=timeout
    )


def pid(s: Settings | None = None) -> int | None:
    """Pid of our postmaster if it is alive (read from its own postmaster.pid)."""
    found = read_pid(paths(s).pid_file)
    if found is None or not pid_alive(found):
        return None
    args = cmdline(found)
    return found if args and args[0].endswith("postgres") else None


def _ping(s: Settings, *, user: str, dbname: str, timeout: float) -> bool:
    try:
        with psycopg.connect(
            host=s.pg_host, port=s.pg_port, user=user, dbname=dbname, connect_timeout=max(1, int(timeout))
        ) as conn:
            return conn.execute("SELECT 1").fetchone() == (1,)
    except psycopg.Error:
        return False


def is_answering(s: Settings | None = None, *, timeout: float = 3.0) -> bool:
    """`SELECT 1` as the app's role over TCP, like the app.

    It asks the `postgres` maintenance database, which always exists: the configured database may be a
    per-test-run one that the test harness creates only after the services are up.
    """
    s = s or get_settings()
    return _ping(s, user=s.pg_user, dbname="postgres", timeout=timeout)


def log_tail(s: Settings | None = None, lines: int = 40) -> str:
    return tail(paths(s).log_file, lines)


def _prepare(s: Settings, p: PostgresPaths) -> None:
    """Create the folders for the postgres user and the cluster itself, once."""
    if not (BIN / "postgres").exists():
        raise ServiceError(NAME, f"no server binaries in {BIN}: run infra/bootstrap.sh")
    socket_path = p.run / f".s.PGSQL.{s.pg_port}"
    if len(str(socket_path).encode()) > 107:
        raise ServiceError(NAME, f"socket path {socket_path} is longer than a Unix socket allows (107 bytes)")
    account = pwd.getpwnam(OS_USER)
    p.root.mkdir(parents=True, exist_ok=True)
    for folder in (p.data, p.run, p.logs):
        folder.mkdir(exist_ok=True)
        os.chown(folder, account.pw_uid, account.pw_gid)
    p.data.chmod(0o700)  # the server refuses a data directory others can read
    reachable = _as_postgres(["test", "-w", str(p.run)], cwd=Path("/"), timeout=30)
    if reachable.returncode != 0:
        raise ServiceError(
            NAME, f"the `{OS_USER}` user cannot reach {p.root}: every parent folder needs o+x (search)"
        )
    if not (p.data / "PG_VERSION").exists():
        if any(p.data.iterdir()):
            raise ServiceError(NAME, f"{p.data} is neither empty nor a PostgreSQL cluster; move it away")
        # UTF-8 for the Chinese names; the C.UTF-8 locale exists on every Debian without locales-all.
        options = ["-U", SUPERUSER, "--auth=trust", "--encoding=UTF8", "--locale=C.UTF-8"]
        made = _as_postgres(
            [str(BIN / "initdb"), "-D", str(p.data), *options],
            cwd=p.root,
            timeout=300,
        )
        if made.returncode != 0:
            raise ServiceError(NAME, "initdb failed", log_tail=made.stderr + made.stdout)
        with (p.data / "postgresql.conf").open("a") as conf:
            conf.write("\ninclude_if_exists = 'gridflow.conf'\n")
    for name, text in (("gridflow.conf", SERVER_CONF), ("pg_hba.conf", HBA_CONF)):
        target = p.data / name
        target.write_text(text)
        os.chown(target, account.pw_uid, account.pw_gid)


def _ensure_role_and_database(s: Settings) -> None:
    """Create the app's role and the standard `gridflow` database if missing.

    The role is a superuser: tests create and drop databases, the migration creates postgis. A database
    configured under another name (a test run's) is left to whoever configured it, who creates it.
    """
    role, database = sql.Identifier(s.pg_user), sql.Identifier(DEFAULT_DATABASE)
    with psycopg.connect(
        host=s.pg_host, port=s.pg_port, user=SUPERUSER, dbname="postgres", autocommit=True, connect_timeout=5
    ) as conn:
        # Two starts racing (parallel test workers) may both see "missing"; the loser's error is harmless.
        with contextlib.suppress(psycopg.errors.DuplicateObject):
            if not conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (s.pg_user,)).fetchall():
                conn.execute(sql.SQL("CREATE ROLE {} SUPERUSER LOGIN").format(role))
        with contextlib.suppress(psycopg.errors.DuplicateDatabase):
            if not conn.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", (DEFAULT_DATABASE,)
            ).fetchall():
                conn.execute(sql.SQL("CREATE DATABASE {} OWNER {}").format(database, role))


def _clear_stale_locks(s: Settings, p: PostgresPaths) -> None:
    """Remove lock files whose postmaster is gone.

    A postmaster killed with -9 stays a zombie here (PID 1 does not reap orphans), and the server would
    take the zombie's pid in a stale lock file for a live rival and refuse to start.
    """
    for lock in (p.pid_file, p.run / f".s.PGSQL.{s.pg_port}.lock"):
        owner = read_pid(lock)
        if owner is None or not pid_alive(owner) or "postgres" not in " ".join(cmdline(owner)):
            lock.unlink(missing_ok=True)


def start(s: Settings | None = None, *, timeout: float = 60.0) -> float:
    """Start the cluster unless it already answers; return the seconds it took to answer (0.0 if it did)."""
    s = s or get_settings()
    p = paths(s)
    with locked(p.lock_file):
        started = time.monotonic()
        if pid(s) is None:
            _launch(s, p, timeout)
        elif is_answering(s, timeout=2.0):
            return 0.0
        # Started just now, still starting, or running without the app's role: wait, then finish the job.
        deadline = started + timeout
        while not _ping(s, user=SUPERUSER, dbname="postgres", timeout=2.0):
            if time.monotonic() > deadline:
                raise ServiceError(
                    NAME, f"no answer to SELECT 1 within {timeout:.0f} s", log_tail=log_tail(s)
                )
            time.sleep(0.2)
        _ensure_role_and_database(s)
        if not is_answering(s, timeout=5.0):
            raise ServiceError(NAME, f"role {s.pg_user} cannot log in to the server", log_tail=log_tail(s))
        return time.monotonic() - started


def _launch(s: Settings, p: PostgresPaths, timeout: float) -> None:
    if port_in_use(s.pg_host, s.pg_port):
        raise ServiceError(NAME, f"port {s.pg_host}:{s.pg_port} is taken by a process that is not ours")
    _prepare(s, p)
    _clear_stale_locks(s, p)
    options = f"-p {s.pg_port} -k {shlex.quote(str(p.run))} -c listen_addresses={s.pg_host}"
    wait = ["-w", "-t", str(int(timeout))]
    done = _as_postgres(
        [str(BIN / "pg_ctl"), "-D", str(p.data), "-l", str(p.log_file), "-o", options, *wait, "start"],
        cwd=p.root,
        timeout=timeout + 10,
    )
    if done.returncode != 0:
        raise ServiceError(NAME, "pg_ctl start failed", log_tail=done.stdout + done.stderr + log_tail(s))


def stop(s: Settings | None = None, *, timeout: float = 60.0) -> None:
    """Fast shutdown (open sessions are rolled back), then SIGKILL if the server is still there."""
    p = paths(s)
    with locked(p.lock_file):
        running = pid(s)
        if running is None:
            return
        wait = ["-w", "-t", str(int(timeout))]
        _as_postgres(
            [str(BIN / "pg_ctl"), "-D", str(p.data), "-m", "fast", *wait, "stop"],
            cwd=p.root,
            timeout=timeout + 10,
        )
        if not wait_for_exit(running, 5):
            _kill(p, running)


def kill(s: Settings | None = None) -> None:
    """kill -9 the postmaster and its backends, as a crash of the server would; the next start recovers."""
    p = paths(s)
    with locked(p.lock_file):
        running = pid(s)
        if running is not None:
            _kill(p, running)


def _kill(p: PostgresPaths, running: int) -> None:
    """The children go too: each is its own process group (PostgreSQL does that), and one that lingered
    would hold the shared memory and make the restart refuse. The postmaster is frozen first so that it
    cannot fork a new child between the listing and the kill.
    """
    send_signal(running, signal.SIGSTOP)
    doomed = [running, *children(running)]
    for target in doomed:
        send_signal(target, signal.SIGKILL)
    for target in doomed:
        if not wait_for_exit(target, 10):
            raise ServiceError(NAME, f"pid {target} survived SIGKILL")
    p.pid_file.unlink(missing_ok=True)


def status(s: Settings | None = None) -> ServiceStatus:
    s = s or get_settings()
    p = paths(s)
    running = pid(s)
    answering = running is not None and is_answering(s, timeout=2.0)
    detail = f"socket {p.run}, role {s.pg_user}"
    return ServiceStatus(NAME, running is not None, running, s.pg_port, answering, p.log_file, detail)
