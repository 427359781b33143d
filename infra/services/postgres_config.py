"""Where the PostgreSQL cluster keeps its files, and the configuration it runs with (rewritten at start)."""

from __future__ import annotations

import os
import pwd
from dataclasses import dataclass
from pathlib import Path

from infra.settings import Settings, get_settings

OS_USER = "postgres"  # the server refuses to run as root
ADMIN_MAP = "gridflow_admin"

# Loaded through `include` from postgresql.conf; port, socket dir and listen address come on the
# command line so that they always follow the settings.
SERVER_CONF = """\
# Written by infra/services/postgres_config.py on every start; edit there, not here.
shared_buffers = '128MB'
max_connections = 100
fsync = on
synchronous_commit = on
max_wal_size = '512MB'
log_line_prefix = '%m [%p] %q%u@%d '
log_min_duration_statement = 2000
password_encryption = 'scram-sha-256'
# The server's log rotates: one file per weekday under the logs folder, overwritten a week later, so the
# folder holds at most seven. No size trigger: a size rotation reopens the day's file and appends to it
# (truncation happens on time-based rotation only), so it would bound nothing.
logging_collector = on
log_filename = 'postgresql-%a.log'
log_rotation_age = '1d'
log_rotation_size = 0
log_truncate_on_rotation = on
"""
COLLECTED_LOGS = "postgresql-*.log"

# No `trust` anywhere: being a process on this machine proves nothing about who it is.
HBA_CONF = f"""\
# Written by infra/services/postgres_config.py on every start; edit there, not here.
# The superuser: over the Unix socket only, for the OS users that pg_ident.conf maps to it.
local all postgres              peer map={ADMIN_MAP}
# Every other role, the app's first: TCP on loopback with a SCRAM password.
host  all all      127.0.0.1/32 scram-sha-256
"""

# root runs `services up`, the tests' database setup and the PostGIS step of the migrations.
IDENT_CONF = f"""\
# Written by infra/services/postgres_config.py on every start; edit there, not here.
{ADMIN_MAP} root     postgres
{ADMIN_MAP} postgres postgres
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


def configs(p: PostgresPaths) -> dict[str, str]:
    # The collector's folder is named absolutely: its default lies inside the data directory.
    server = SERVER_CONF + f"log_directory = '{p.logs}'\n"
    return {"gridflow.conf": server, "pg_hba.conf": HBA_CONF, "pg_ident.conf": IDENT_CONF}


def server_logs(p: PostgresPaths) -> list[Path]:
    """The log collector's files, the newest last (the server's own output before the collector runs goes
    to `log_file`)."""
    return sorted(p.logs.glob(COLLECTED_LOGS), key=lambda path: path.stat().st_mtime)


def configs_current(p: PostgresPaths) -> bool:
    """True when every file we write already says what we would write."""
    try:
        return all((p.data / name).read_text() == text for name, text in configs(p).items())
    except FileNotFoundError:
        return False


def write_configs(p: PostgresPaths) -> bool:
    """Write the server, hba and ident files into the data dir; True if any of them changed."""
    account = pwd.getpwnam(OS_USER)
    changed = False
    for name, text in configs(p).items():
        target = p.data / name
        if target.exists() and target.read_text() == text:
            continue
        target.write_text(text)
        target.chmod(0o600)
        os.chown(target, account.pw_uid, account.pw_gid)
        changed = True
    return changed
