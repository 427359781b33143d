"""The tokens' HMAC secret: GRIDFLOW_JWT_SECRET if set, else one generated once under state_dir (0600).

Every API process of a machine must sign with the same secret, so the first to start writes it and the
others read it: the file is created whole under another name and linked into place, which fails if another
process got there first (os.replace would let the last one win and leave two processes with two secrets).
"""

from __future__ import annotations

import contextlib
import os
import secrets
from functools import lru_cache

from accounts.tokens import MIN_SECRET_BYTES
from infra.settings import Settings, get_settings


def ensure_secret(settings: Settings) -> bytes:
    """The secret's bytes; made if missing. ValueError when a configured one is too short."""
    if settings.jwt_secret is not None and settings.jwt_secret.get_secret_value():
        secret = settings.jwt_secret.get_secret_value().encode()
        if len(secret) < MIN_SECRET_BYTES:
            raise ValueError(f"GRIDFLOW_JWT_SECRET needs at least {MIN_SECRET_BYTES} bytes")
        return secret
    path = settings.jwt_secret_file
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    if not path.exists():
        draft = path.with_name(f".{path.name}.{os.getpid()}")
        handle = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(handle, "w") as out:
            out.write(secrets.token_urlsafe(48) + "\n")  # 48 random bytes
        with contextlib.suppress(FileExistsError):
            os.link(draft, path)
        draft.unlink()
    path.chmod(0o600)
    return path.read_text().strip().encode()


@lru_cache(maxsize=1)
def token_secret() -> bytes:
    """This process's secret (read once)."""
    return ensure_secret(get_settings())
