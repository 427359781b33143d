"""argon2id hashes and the password policy."""

from __future__ import annotations

import pytest
from argon2 import PasswordHasher
from argon2.low_level import Type

from accounts.passwords import (
    HASHER,
    WeakPassword,
    check_policy,
    hash_password,
    needs_rehash,
    policy_problem,
    verify_dummy,
    verify_password,
)

# Cheap parameters for the tests that only need a hash, not its cost.
FAST = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1, type=Type.ID)


def test_a_hash_is_argon2id_with_the_documented_parameters_and_verifies() -> None:
    stored = hash_password("correct horse battery")
    assert stored.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    assert verify_password(stored, "correct horse battery")
    assert not verify_password(stored, "correct horse batterY")
    assert not needs_rehash(stored)


def test_the_same_password_hashes_differently_each_time() -> None:
    assert hash_password("same password", FAST) != hash_password("same password", FAST)


def test_a_hash_made_with_weaker_parameters_needs_a_rehash() -> None:
    assert needs_rehash(hash_password("old parameters", FAST), HASHER)
    assert needs_rehash("not a hash at all")


def test_a_malformed_hash_or_an_overlong_password_matches_nothing() -> None:
    assert not verify_password("$argon2id$garbage", "whatever123")
    stored = hash_password("x" * 20, FAST)
    assert not verify_password(stored, "x" * 300, FAST)
    assert not verify_dummy("anything at all", FAST)


@pytest.mark.parametrize(
    ("password", "username", "says"),
    [
        ("short", "wang", "至少 10"),
        ("x" * 257, "wang", "至多 256"),
        ("wangxiaoming", "wangxiaoming", "用户名"),
        ("WangXiaoMing", "wangxiaoming", "用户名"),
        ("aaaaaaaaaaaa", "wang", "过于简单"),
    ],
)
def test_the_policy_says_what_is_wrong(password: str, username: str, says: str) -> None:
    problem = policy_problem(password, username=username)
    assert problem is not None and says in problem
    with pytest.raises(WeakPassword, match=says):
        check_policy(password, username=username)


def test_a_long_enough_password_other_than_the_username_passes() -> None:
    assert policy_problem("网格巡查2026年春季", username="wang") is None
