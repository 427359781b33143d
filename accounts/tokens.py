"""Access and refresh tokens: JWTs after RFC 8725 (JWT best current practices), as pure functions of a clock.

- One algorithm, HS256, fixed on both sides: the header's `alg` must be exactly it, so `none`, another HMAC
  (HS512) or a public-key algorithm (RS256, whose public key would be tried as an HMAC secret) are refused
  before any signature is checked. HMAC rather than EdDSA because the API that issues tokens is the only
  party that verifies them (its processes share one secret), so a key pair would buy nothing and cost a
  dependency; the secret has at least 32 random bytes (RFC 7518 §3.2: as long as the hash).
- Explicit types (RFC 8725 §3.11): `at+jwt` for access tokens (RFC 9068), `refresh+jwt` for refresh tokens,
  so one is never accepted for the other. `iss` and `aud` are checked; `exp`, `nbf` and `iat` against the
  caller's clock with a small leeway for clocks of several processes; every token has a `jti`.
- Both carry `ver`, the user's token version: disabling a user, changing their password or role bumps it,
  which revokes every token issued before (`check_version`).
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any
from uuid import UUID

import jwt
from pydantic import BaseModel, ConfigDict, ValidationError

from accounts.roles import Principal, PrincipalKind, Role

ALGORITHM = "HS256"
ISSUER = "gridflow"
AUDIENCE = "gridflow-api"
ACCESS_TTL = timedelta(minutes=15)
REFRESH_TTL = timedelta(hours=8)
LEEWAY = timedelta(seconds=30)
MIN_SECRET_BYTES = 32


class TokenType(StrEnum):
    ACCESS = "at+jwt"
    REFRESH = "refresh+jwt"


class Problem(StrEnum):
    MALFORMED = "malformed"
    BAD_ALGORITHM = "bad_algorithm"
    BAD_TYPE = "bad_type"
    BAD_SIGNATURE = "bad_signature"
    BAD_ISSUER = "bad_issuer"
    BAD_AUDIENCE = "bad_audience"
    EXPIRED = "expired"
    NOT_YET_VALID = "not_yet_valid"
    REVOKED = "revoked"


class TokenRefused(Exception):
    """The token is not accepted; `reason` says why (for logs and tests; clients get one 401)."""

    def __init__(self, reason: Problem, detail: str = "") -> None:
        super().__init__(f"{reason.value}: {detail}" if detail else reason.value)
        self.reason = reason


class Issued(BaseModel):
    model_config = ConfigDict(frozen=True)

    token: str
    token_id: str
    expires_at: datetime
    expires_in: int  # seconds, as OAuth 2's token response says


class Claims(BaseModel):
    """A verified token. `principal` is who the access token speaks for (None in a refresh token)."""

    model_config = ConfigDict(frozen=True)

    token_type: TokenType
    subject: UUID
    token_id: str
    issued_at: datetime
    not_before: datetime
    expires_at: datetime
    version: int
    principal: Principal | None = None


def check_secret(secret: bytes) -> bytes:
    if len(secret) < MIN_SECRET_BYTES:
        raise ValueError(f"the token secret needs at least {MIN_SECRET_BYTES} bytes, got {len(secret)}")
    return secret


def _issue(
    claims: dict[str, Any], token_type: TokenType, *, now: datetime, ttl: timedelta, secret: bytes
) -> Issued:
    token_id = secrets.token_urlsafe(16)
    expires_at = now + ttl
    stamp = int(now.timestamp())
    payload = {
        **claims,
        "iss": ISSUER,
        "aud": AUDIENCE,
        "iat": stamp,
        "nbf": stamp,
        "exp": int(expires_at.timestamp()),
        "jti": token_id,
    }
    token = jwt.encode(payload, check_secret(secret), algorithm=ALGORITHM, headers={"typ": token_type.value})
    return Issued(token=token, token_id=token_id, expires_at=expires_at, expires_in=int(ttl.total_seconds()))


def issue_access(
    principal: Principal, *, token_version: int, now: datetime, secret: bytes, ttl: timedelta = ACCESS_TTL
) -> Issued:
    """A short-lived access token that carries the principal (so a request needs no lookup to know it)."""
    claims = {
        "sub": str(principal.user_id),
        "ver": token_version,
        "kind": principal.kind.value,
        "name": principal.username,
        "role": principal.role.value if principal.role else None,
        "area": principal.area_code,
        "dept": principal.department_code,
        "grids": list(principal.grid_codes),
    }
    return _issue(claims, TokenType.ACCESS, now=now, ttl=ttl, secret=secret)


def issue_refresh(
    user_id: UUID, *, token_version: int, now: datetime, secret: bytes, ttl: timedelta = REFRESH_TTL
) -> Issued:
    """A refresh token: only who and which token version; the user is read again when it is used."""
    return _issue(
        {"sub": str(user_id), "ver": token_version}, TokenType.REFRESH, now=now, ttl=ttl, secret=secret
    )


def _type_of(header_typ: object) -> str:
    # RFC 7515 §4.1.9: "application/" may be left out of a media type, and the comparison ignores case.
    text = str(header_typ).lower()
    return text.removeprefix("application/")


def verify(
    token: str, expected_type: TokenType, *, now: datetime, secret: bytes, leeway: timedelta = LEEWAY
) -> Claims:
    """The claims of a token of `expected_type`, or TokenRefused saying why not."""
    try:
        header = jwt.get_unverified_header(token)
    except jwt.DecodeError as exc:
        raise TokenRefused(Problem.MALFORMED, str(exc)) from exc
    if header.get("alg") != ALGORITHM:
        raise TokenRefused(Problem.BAD_ALGORITHM, f"alg {header.get('alg')!r}")
    if _type_of(header.get("typ")) != expected_type.value:
        raise TokenRefused(Problem.BAD_TYPE, f"typ {header.get('typ')!r}, expected {expected_type.value}")
    required = ["iss", "aud", "sub", "iat", "nbf", "exp", "jti", "ver"]
    options: Any = {"verify_exp": False, "verify_nbf": False, "verify_iat": False, "require": required}
    try:
        payload = jwt.decode(
            token,
            check_secret(secret),
            algorithms=[ALGORITHM],
            audience=AUDIENCE,
            issuer=ISSUER,
            options=options,
        )
    except jwt.InvalidSignatureError as exc:
        raise TokenRefused(Problem.BAD_SIGNATURE) from exc
    except jwt.InvalidAudienceError as exc:
        raise TokenRefused(Problem.BAD_AUDIENCE) from exc
    except jwt.InvalidIssuerError as exc:
        raise TokenRefused(Problem.BAD_ISSUER) from exc
    except jwt.InvalidTokenError as exc:  # undecodable, a claim missing or of the wrong type
        raise TokenRefused(Problem.MALFORMED, str(exc)) from exc
    return _claims(payload, expected_type, now=now, leeway=leeway)


def _claims(payload: dict[str, Any], token_type: TokenType, *, now: datetime, leeway: timedelta) -> Claims:
    try:
        issued_at = datetime.fromtimestamp(int(payload["iat"]), UTC)
        not_before = datetime.fromtimestamp(int(payload["nbf"]), UTC)
        expires_at = datetime.fromtimestamp(int(payload["exp"]), UTC)
        principal = _principal(payload) if token_type is TokenType.ACCESS else None
        claims = Claims(
            token_type=token_type,
            subject=UUID(str(payload["sub"])),
            token_id=str(payload["jti"]),
            issued_at=issued_at,
            not_before=not_before,
            expires_at=expires_at,
            version=int(payload["ver"]),
            principal=principal,
        )
    except (KeyError, TypeError, ValueError, OverflowError, ValidationError) as exc:
        raise TokenRefused(Problem.MALFORMED, str(exc)) from exc
    return check_times(claims, now=now, leeway=leeway)


def check_times(claims: Claims, *, now: datetime, leeway: timedelta = LEEWAY) -> Claims:
    """The claims if the token is valid at `now` (expiry and not-before, with the leeway); TokenRefused if
    not. A token verified before is judged again by this alone: its bytes, so its signature, cannot have
    changed."""
    if now >= claims.expires_at + leeway:
        raise TokenRefused(Problem.EXPIRED, f"expired at {claims.expires_at.isoformat()}")
    if now + leeway < claims.not_before or now + leeway < claims.issued_at:
        raise TokenRefused(Problem.NOT_YET_VALID, f"valid from {claims.not_before.isoformat()}")
    return claims


def _principal(payload: dict[str, Any]) -> Principal:
    role = payload.get("role")
    return Principal(
        kind=PrincipalKind(payload["kind"]),
        user_id=UUID(str(payload["sub"])),
        username=str(payload["name"]),
        role=Role(role) if role is not None else None,
        area_code=payload.get("area"),
        department_code=payload.get("dept"),
        grid_codes=tuple(payload.get("grids") or ()),
    )


def check_version(claims: Claims, current_version: int) -> None:
    """TokenRefused(revoked) when the user's token version moved on since the token was issued."""
    if claims.version != current_version:
        raise TokenRefused(
            Problem.REVOKED, f"token version {claims.version}, the user's is {current_version}"
        )
