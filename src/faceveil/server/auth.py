"""Bearer-token auth, on when ``FACEVEIL_API_TOKEN`` is set.

Every ``/api/v1`` route (``/health`` included, so a guarded studio does not even reveal its
version) needs ``Authorization: Bearer <token>``, or the ``faceveil_token`` cookie that the web
UI sets. Tokens are compared in constant time.
"""

from __future__ import annotations

import hmac

from fastapi import Request

from faceveil.server.errors import ApiError
from faceveil.server.security import LoginThrottle

COOKIE = "faceveil_token"


def presented_token(request: Request) -> str | None:
    """The token a request carries: the bearer header first, else the cookie."""
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return request.cookies.get(COOKIE) or None


def token_ok(request: Request) -> bool:
    """True when auth is off, or the request carries the right token."""
    expected = request.app.state.settings.api_token
    if not expected:
        return True
    given = presented_token(request)
    return given is not None and hmac.compare_digest(given.encode(), expected.encode())


def token_throttle(request: Request) -> LoginThrottle:
    """The app's count of wrong tokens per client address, shared by /login and the API."""
    found = getattr(request.app.state, "token_throttle", None)
    if found is None:
        found = request.app.state.token_throttle = LoginThrottle()
    return found


def client_address(request: Request) -> str:
    return request.client.host if request.client else "?"


async def require_token(request: Request) -> None:
    """FastAPI dependency: 401 unless :func:`token_ok`. A client that sent too many wrong
    tokens gets 429 before its next one is even compared, as at /login; a missing token is
    not counted (a client not yet logged in)."""
    if not request.app.state.settings.api_token:
        return
    presented = presented_token(request) is not None
    throttle, client = token_throttle(request), client_address(request)
    if presented and (wait := throttle.retry_after(client)):
        raise ApiError(
            429, f"too many wrong tokens; retry in {wait} s", headers={"Retry-After": str(wait)}
        )
    if token_ok(request):
        return
    if presented:
        throttle.failed(client)
    raise ApiError(
        401,
        "missing or wrong API token (send 'Authorization: Bearer <token>')",
        headers={"WWW-Authenticate": "Bearer"},
    )
