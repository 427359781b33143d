"""Access and refresh tokens after RFC 8725: every way a token can be wrong is refused, for its reason."""

from __future__ import annotations

import base64
import json
import uuid
from datetime import UTC, datetime, timedelta

import jwt
import pytest

from accounts.roles import Principal, Role
from accounts.tokens import (
    ACCESS_TTL,
    LEEWAY,
    Problem,
    TokenRefused,
    TokenType,
    check_version,
    issue_access,
    issue_refresh,
    verify,
)

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
SECRET = b"s" * 32
WORKER = Principal(
    user_id=uuid.uuid4(), username="wg0001", role=Role.GRID_WORKER, grid_codes=("210202001001001",)
)


def access(**kwargs: object) -> str:
    return issue_access(WORKER, token_version=3, now=NOW, secret=SECRET, **kwargs).token  # type: ignore[arg-type]


def refused(token: str, expected: TokenType = TokenType.ACCESS, now: datetime = NOW) -> Problem:
    with pytest.raises(TokenRefused) as caught:
        verify(token, expected, now=now, secret=SECRET)
    return caught.value.reason


def b64(data: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def test_an_access_token_carries_the_principal_and_its_version() -> None:
    issued = issue_access(WORKER, token_version=3, now=NOW, secret=SECRET)
    assert issued.expires_in == ACCESS_TTL.total_seconds()
    claims = verify(issued.token, TokenType.ACCESS, now=NOW + timedelta(minutes=5), secret=SECRET)
    assert claims.principal == WORKER
    assert claims.version == 3 and claims.subject == WORKER.user_id
    assert claims.token_id == issued.token_id
    header = jwt.get_unverified_header(issued.token)
    assert header == {"alg": "HS256", "typ": "at+jwt"}


def test_every_token_has_its_own_id() -> None:
    assert access() != access()


def test_an_expired_token_is_refused_after_the_leeway() -> None:
    end = NOW + ACCESS_TTL
    verify(access(), TokenType.ACCESS, now=end + LEEWAY - timedelta(seconds=1), secret=SECRET)
    assert refused(access(), now=end + LEEWAY) is Problem.EXPIRED


def test_a_token_from_the_future_is_not_yet_valid() -> None:
    future = issue_access(WORKER, token_version=1, now=NOW + timedelta(minutes=5), secret=SECRET).token
    assert refused(future) is Problem.NOT_YET_VALID
    slightly = issue_access(WORKER, token_version=1, now=NOW + timedelta(seconds=10), secret=SECRET).token
    verify(slightly, TokenType.ACCESS, now=NOW, secret=SECRET)  # clocks of two processes may differ a little


def test_a_refresh_token_is_not_an_access_token_nor_the_reverse() -> None:
    refresh = issue_refresh(WORKER.user_id, token_version=3, now=NOW, secret=SECRET).token
    assert refused(refresh, TokenType.ACCESS) is Problem.BAD_TYPE
    assert refused(access(), TokenType.REFRESH) is Problem.BAD_TYPE
    claims = verify(refresh, TokenType.REFRESH, now=NOW, secret=SECRET)
    assert claims.principal is None and claims.version == 3


def _signed(
    payload: dict[str, object], *, headers: dict[str, object] | None = None, key: bytes = SECRET
) -> str:
    return jwt.encode(payload, key, algorithm="HS256", headers=headers or {"typ": "at+jwt"})


def _payload(**change: object) -> dict[str, object]:
    payload = jwt.decode(access(), options={"verify_signature": False})
    return {**payload, **change}


def test_a_wrong_audience_or_issuer_is_refused() -> None:
    assert refused(_signed(_payload(aud="another-api"))) is Problem.BAD_AUDIENCE
    assert refused(_signed(_payload(iss="someone-else"))) is Problem.BAD_ISSUER


def test_a_missing_claim_is_malformed() -> None:
    payload = _payload()
    del payload["jti"]
    assert refused(_signed(payload)) is Problem.MALFORMED


def test_alg_none_is_refused() -> None:
    token = f"{b64({'alg': 'none', 'typ': 'at+jwt'})}.{b64(_payload())}."
    assert refused(token) is Problem.BAD_ALGORITHM
    assert refused(f"{b64({'alg': 'None', 'typ': 'at+jwt'})}.{b64(_payload())}.") is Problem.BAD_ALGORITHM


def test_another_algorithm_is_refused_even_with_the_right_key() -> None:
    hs512 = jwt.encode(_payload(), SECRET * 2, algorithm="HS512", headers={"typ": "at+jwt"})
    assert refused(hs512) is Problem.BAD_ALGORITHM
    # An RS256 header over an HMAC signature: the classic key-confusion attempt.
    _header, body, signature = _signed(_payload()).split(".")
    swapped = f"{b64({'alg': 'RS256', 'typ': 'at+jwt'})}.{body}.{signature}"
    assert refused(swapped) is Problem.BAD_ALGORITHM


def test_a_tampered_payload_or_another_key_fails_the_signature() -> None:
    header, _, signature = access().split(".")
    promoted = b64(_payload(role="admin"))
    assert refused(f"{header}.{promoted}.{signature}") is Problem.BAD_SIGNATURE
    assert refused(_signed(_payload(), key=b"k" * 32)) is Problem.BAD_SIGNATURE


def test_a_token_without_a_type_or_of_a_generic_type_is_refused() -> None:
    assert refused(_signed(_payload(), headers={"typ": "JWT"})) is Problem.BAD_TYPE
    assert refused(jwt.encode(_payload(), SECRET, algorithm="HS256")) is Problem.BAD_TYPE
    verify(
        _signed(_payload(), headers={"typ": "application/AT+JWT"}), TokenType.ACCESS, now=NOW, secret=SECRET
    )


@pytest.mark.parametrize("garbage", ["", "abc", "a.b", "a.b.c", "🙂.🙂.🙂"])
def test_garbage_is_malformed(garbage: str) -> None:
    assert refused(garbage) is Problem.MALFORMED


def test_a_bumped_token_version_revokes_what_was_issued_before() -> None:
    refresh = issue_refresh(WORKER.user_id, token_version=3, now=NOW, secret=SECRET).token
    claims = verify(refresh, TokenType.REFRESH, now=NOW, secret=SECRET)
    check_version(claims, 3)
    with pytest.raises(TokenRefused) as caught:
        check_version(claims, 4)
    assert caught.value.reason is Problem.REVOKED


def test_a_short_secret_is_refused() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        issue_access(WORKER, token_version=1, now=NOW, secret=b"short")
