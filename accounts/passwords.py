"""Password hashes (argon2id) and the password policy.

Parameters: RFC 9106's second recommended option (argon2id, t=3 passes, m=64 MiB, p=4 lanes, 16-byte salt,
32-byte tag), which OWASP's cheat sheet also lists; a hash takes about 0.1-0.2 s on one core here, slow
enough for guessing and fast enough for a sign-in. The parameters are stored in each hash, so raising them
later re-hashes a user's password at their next sign-in (`needs_rehash`).
"""

from __future__ import annotations

import secrets
from functools import lru_cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from argon2.low_level import Type

MIN_LENGTH = 10
# argon2 takes any length, but hashing a megabyte per guess is a cheap way to load the server.
MAX_LENGTH = 256

HASHER = PasswordHasher(
    time_cost=3, memory_cost=64 * 1024, parallelism=4, hash_len=32, salt_len=16, type=Type.ID
)


class WeakPassword(ValueError):
    """The password breaks the policy; the message (Chinese) says how."""


def policy_problem(password: str, *, username: str) -> str | None:
    """What is wrong with `password` for `username`, in Chinese, or None if it is acceptable."""
    if len(password) < MIN_LENGTH:
        return f"密码至少 {MIN_LENGTH} 个字符"
    if len(password) > MAX_LENGTH:
        return f"密码至多 {MAX_LENGTH} 个字符"
    if password.strip().casefold() == username.strip().casefold():
        return "密码不能与用户名相同"
    if len(set(password)) < 3:
        return "密码过于简单：请勿只重复一两个字符"
    return None


def check_policy(password: str, *, username: str) -> None:
    """Raise WeakPassword when `password` breaks the policy."""
    problem = policy_problem(password, username=username)
    if problem is not None:
        raise WeakPassword(problem)


def hash_password(password: str, hasher: PasswordHasher = HASHER) -> str:
    """The argon2id hash (PHC string with its parameters and salt) of `password`."""
    return hasher.hash(password)


def verify_password(stored_hash: str, password: str, hasher: PasswordHasher = HASHER) -> bool:
    """Whether `password` matches; a malformed hash or an overlong password matches nothing."""
    if len(password) > MAX_LENGTH:
        return False
    try:
        return hasher.verify(stored_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(stored_hash: str, hasher: PasswordHasher = HASHER) -> bool:
    """Whether `stored_hash` was made with other parameters than `hasher`'s (re-hash at the next sign-in)."""
    try:
        return hasher.check_needs_rehash(stored_hash)
    except InvalidHashError:
        return True


@lru_cache(maxsize=4)
def _dummy_hash(hasher: PasswordHasher) -> str:
    return hash_password(secrets.token_urlsafe(16), hasher)


def verify_dummy(password: str, hasher: PasswordHasher = HASHER) -> bool:
    """Spend the time a real verification would, always False: used when the username is unknown or
    disabled, so that a failed sign-in takes as long either way and its timing tells no usernames."""
    verify_password(_dummy_hash(hasher), password, hasher)
    return False
