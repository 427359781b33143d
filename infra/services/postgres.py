"""PostgreSQL 15 + PostGIS 3 from Debian's packages, in a cluster of the project's own under the state dir.

We run as root, and PostgreSQL refuses to: every server command runs as the `postgres` OS user. Who may
connect, and as what, is in postgres_access; the files and configuration in postgres_config.
"""

from __future__ import annotations

import os
import pwd
import shlex
import signal
import subprocess
import time
from pathlib import Path

import psycopg

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
    wait_until,
)
from infra.services.postgres_access import (
    DEFAULT_DATABASE,
    SUPERUSER,
    admin_connect,
    app_connect,
    app_is_confined,
    ensure_app_role,
    ensure_database,
    ensure_password,
    refuses_no_password,
    secure_state_dir,
    state_dir_is_secure,
)
from infra.services.postgres_config import (
    OS_USER,
    PostgresPaths,
    configs_current,
    paths,
    server_logs,
    write_configs,
)
from infra.settings import Settings, get_settings

NAME = "postgres"
BIN = Path("/usr/lib/postgresql/15/bin")


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


def is_answering(s: Settings | None = None, *, timeout: float = 3.0) -> bool:
    """`SELECT 1` as the app's role over TCP with its password, like the app.

    It asks the `postgres` maintenance database, which always exists: the configured database may be a
    per-test-run one that the test harness creates only after the services are up.
    """
    try:
        with app_connect(s or get_settings(), timeout=timeout) as conn:
            return conn.execute("SELECT 1").fetchone() == (1,)
    except psycopg.Error:
        return False


def _admin_answers(s: Settings) -> bool:
    try:
        with admin_connect(s, timeout=2.0) as conn:
            return conn.execute("SELECT 1").fetchone() == (1,)
    except psycopg.Error:
        return False


def log_tail(s: Settings | None = None, lines: int = 40) -> str:
    p = paths(s)
    collected = server_logs(p)[-1:]  # once the log collector runs, the server writes there
    return "\n".join(tail(path, lines) for path in [p.log_file, *collected])


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
    _close_to_others(s, p)
    reachable = _as_postgres(["test", "-w", str(p.run)], cwd=Path("/"), timeout=30)
    if reachable.returncode != 0:
        raise ServiceError(
            NAME,
            f"the `{OS_USER}` user cannot reach {p.root}: the state dir needs g+x for group {OS_USER}"
            " and every folder above it o+x (search)",
        )
    if not (p.data / "PG_VERSION").exists():
        if any(p.data.iterdir()):
            raise ServiceError(NAME, f"{p.data} is neither empty nor a PostgreSQL cluster; move it away")
        # UTF-8 for the Chinese names; the C.UTF-8 locale exists on every Debian without locales-all.
        # The authentication options only matter until write_configs() replaces pg_hba.conf below.
        options = ["-U", SUPERUSER, "--auth-local=peer", "--auth-host=scram-sha-256"]
        options += ["--encoding=UTF8", "--locale=C.UTF-8"]
        made = _as_postgres(
            [str(BIN / "initdb"), "-D", str(p.data), *options],
            cwd=p.root,
            timeout=300,
        )
        if made.returncode != 0:
            raise ServiceError(NAME, "initdb failed", log_tail=made.stderr + made.stdout)
        with (p.data / "postgresql.conf").open("a") as conf:
            conf.write("\ninclude_if_exists = 'gridflow.conf'\n")
    write_configs(p)


def _close_to_others(s: Settings, p: PostgresPaths) -> None:
    secure_state_dir(s)
    p.logs.chmod(0o700)  # statements slower than 2 s are logged with their values


def _access_current(s: Settings, p: PostgresPaths) -> bool:
    """Nothing for start() to do: our files are in place and the app logs in with exactly its rights."""
    return configs_current(p) and state_dir_is_secure(s) and app_is_confined(s, timeout=2.0)


def _secure_access(s: Settings, p: PostgresPaths) -> None:
    """Bring a running cluster to our access rules; this is also how one made with `trust` is upgraded.

    Rewriting pg_hba.conf and reloading needs no connection, so it works whatever the old rules were;
    then the role gets its password and rights over the socket, and we check that trust is gone.
    """
    _close_to_others(s, p)
    if write_configs(p):
        done = _as_postgres([str(BIN / "pg_ctl"), "-D", str(p.data), "reload"], cwd=p.root, timeout=30)
        if done.returncode != 0:
            raise ServiceError(NAME, "pg_ctl reload failed", log_tail=done.stdout + done.stderr)
    ensure_app_role(s, ensure_password(s))
    ensure_database(s, DEFAULT_DATABASE)
    # A reload takes effect when the postmaster handles its SIGHUP, a moment later.
    if not wait_until(lambda: refuses_no_password(s), timeout=10):
        raise ServiceError(NAME, f"{s.pg_user} still gets in without a password", log_tail=log_tail(s))
    if not app_is_confined(s, timeout=5.0):
        raise ServiceError(NAME, f"role {s.pg_user} cannot log in with its password", log_tail=log_tail(s))


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
    """Start the cluster unless it already answers; return the seconds it took to answer (0.0 if it did).

    A running cluster whose access rules are not ours (one made before the app had a password) is
    brought to them in place, without a restart.
    """
    s = s or get_settings()
    p = paths(s)
    with locked(p.lock_file):
        started = time.monotonic()
        if pid(s) is None:
            _launch(s, p, timeout)
        elif _access_current(s, p):
            return 0.0
        # Started just now, still starting, or running under older rules: wait, then finish the job.
        if not wait_until(lambda: _admin_answers(s), timeout=max(0.0, started + timeout - time.monotonic())):
            raise ServiceError(NAME, f"no answer to SELECT 1 within {timeout:.0f} s", log_tail=log_tail(s))
        _secure_access(s, p)
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
