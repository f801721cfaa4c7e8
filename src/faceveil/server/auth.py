"""Bearer-token auth, on when ``FACEVEIL_API_TOKEN`` is set.

Every ``/api/v1`` route (``/health`` included, so a guarded studio does not even reveal its
version) needs ``Authorization: Bearer <token>``, or the ``faceveil_token`` cookie that the web
UI sets. Tokens are compared in constant time.
"""

from __future__ import annotations

import hmac

from fastapi import Request

from faceveil.server.errors import ApiError

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


async def require_token(request: Request) -> None:
    """FastAPI dependency: 401 unless :func:`token_ok`."""
    if not token_ok(request):
        raise ApiError(
            401,
            "missing or wrong API token (send 'Authorization: Bearer <token>')",
            headers={"WWW-Authenticate": "Bearer"},
        )
