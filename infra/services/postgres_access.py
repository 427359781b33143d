"""Who connects to the cluster as what: the app's role and its password, and the superuser's few jobs.

The app's role logs in over TCP with a SCRAM password and owns its databases, but is no superuser. What
needs the superuser (roles, creating a database with PostGIS, which is not a trusted extension) is done
here over the Unix socket, where root and the postgres OS user are mapped to the `postgres` role (peer).
"""

from __future__ import annotations

import contextlib
import os
import pwd
import secrets
import stat

import psycopg
from psycopg import sql

from infra.services.postgres_config import OS_USER, paths
from infra.settings import Settings

SUPERUSER = "postgres"  # the bootstrap superuser initdb creates
DEFAULT_DATABASE = str(Settings.model_fields["pg_database"].default)
# Every database, scratch ones included, is made by ensure_database() as the superuser, so the app's role
# needs no CREATEDB; `services up` takes it from a role that still has it (app_is_confined notices).
APP_CREATEDB = False
APP_ROLE_OPTIONS = "LOGIN NOSUPERUSER NOCREATEROLE NOREPLICATION NOBYPASSRLS " + (
    "CREATEDB" if APP_CREATEDB else "NOCREATEDB"
)


def admin_connect(s: Settings, dbname: str = "postgres", *, timeout: float = 5.0) -> psycopg.Connection:
    """The superuser over the Unix socket (peer authentication), in autocommit."""
    return psycopg.connect(
        host=str(paths(s).run),
        port=s.pg_port,
        user=SUPERUSER,
        dbname=dbname,
        autocommit=True,
        connect_timeout=max(1, int(timeout)),
    )


def app_connect(
    s: Settings, dbname: str = "postgres", *, password: str | None = None, timeout: float = 5.0
) -> psycopg.Connection:
    """The app's role over TCP, as the app connects; `password` overrides the configured one.

    The password file is one that cannot exist, so that an empty password means "send none" rather than
    "look in ~/.pgpass" (and /dev/null would make libpq warn that it is no plain file).
    """
    if password is None:
        secret = s.database_password()
        password = "" if secret is None else secret.get_secret_value()
    return psycopg.connect(
        host=s.pg_host,
        port=s.pg_port,
        user=s.pg_user,
        password=password,
        passfile="/nonexistent/.pgpass",
        dbname=dbname,
        connect_timeout=max(1, int(timeout)),
    )


def secure_state_dir(s: Settings) -> None:
    """Root's state dir, which the postgres user may only traverse (to its cluster) and others not enter.

    It holds the database files, the logs, the app's password and the reports' photos.
    """
    state = s.state_dir.resolve()
    state.mkdir(parents=True, exist_ok=True)
    os.chown(state, -1, pwd.getpwnam(OS_USER).pw_gid)
    state.chmod(0o710)


def state_dir_is_secure(s: Settings) -> bool:
    mode = s.state_dir.resolve().stat().st_mode
    return mode & (stat.S_IRWXO | stat.S_IRGRP | stat.S_IWGRP) == 0


def ensure_password(s: Settings) -> str:
    """The app role's password: GRIDFLOW_PG_PASSWORD if set, else the generated one (made once, mode 0600)."""
    if s.pg_password is not None and s.pg_password.get_secret_value():
        return s.pg_password.get_secret_value()
    path = s.pg_password_file
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    path.parent.chmod(0o700)
    if not path.exists():
        # Written whole under another name, then renamed: a reader never sees a half-written password.
        draft = path.with_name(f".{path.name}.{os.getpid()}")
        handle = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(handle, "w") as out:
            out.write(secrets.token_urlsafe(32) + "\n")
        os.replace(draft, path)
    path.chmod(0o600)
    return path.read_text().strip()


def ensure_app_role(s: Settings, password: str) -> None:
    """Create the app's role, or bring an existing one (a superuser in clusters made before) to its rights.

    Only the SCRAM verifier crosses the wire, so the password can never appear in the server's log.
    """
    role = sql.Identifier(s.pg_user)
    with admin_connect(s) as conn:
        verifier = conn.pgconn.encrypt_password(password.encode(), s.pg_user.encode(), b"scram-sha-256")
        # Two starts racing may both see "missing"; the loser's error is harmless.
        with contextlib.suppress(psycopg.errors.DuplicateObject):
            if not conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (s.pg_user,)).fetchall():
                conn.execute(sql.SQL("CREATE ROLE {}").format(role))
        conn.execute(
            sql.SQL("ALTER ROLE {} WITH {} PASSWORD {}").format(
                role, sql.SQL(APP_ROLE_OPTIONS), sql.Literal(verifier.decode())
            )
        )


def app_is_confined(s: Settings, *, timeout: float = 3.0) -> bool:
    """The app's role logs in with its password and holds exactly the rights APP_ROLE_OPTIONS gives it."""
    try:
        with app_connect(s, timeout=timeout) as conn:
            row = conn.execute(
                "SELECT rolsuper, rolcreaterole, rolcreatedb FROM pg_roles WHERE rolname = current_user"
            ).fetchone()
    except psycopg.Error:
        return False
    return row == (False, False, APP_CREATEDB)


def refuses_no_password(s: Settings) -> bool:
    """True when the server turns the app's role away without a password, as it must."""
    try:
        with app_connect(s, password="", timeout=3.0):
            return False
    except psycopg.OperationalError:
        return True


def ensure_database(s: Settings, name: str) -> None:
    """Create database `name` owned by the app's role, with PostGIS in it, unless they exist.

    The steps of a new database that need the superuser; the migrations do the rest as the app's role.
    """
    database, role = sql.Identifier(name), sql.Identifier(s.pg_user)
    with admin_connect(s) as conn, contextlib.suppress(psycopg.errors.DuplicateDatabase):
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchall():
            conn.execute(sql.SQL("CREATE DATABASE {} OWNER {}").format(database, role))
    with admin_connect(s, name) as conn, contextlib.suppress(psycopg.errors.UniqueViolation):
        conn.execute("CREATE EXTENSION IF NOT EXISTS postgis")


def drop_database(s: Settings, name: str) -> None:
    """Drop database `name` if it exists, closing its sessions."""
    with admin_connect(s) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
