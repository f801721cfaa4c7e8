"""Browser-facing guards for every request: the ``Host`` check (against DNS rebinding), the
``Origin`` check on writes (against cross-site POSTs), and the security headers.

Without a token the studio trusts whoever reaches it, so a web page must not reach it through
the visitor's browser:

- ``Host`` must name this server: the address the connection came in on (what uvicorn reports
  as the server), localhost, 127.0.0.1 or ::1 on the served port, or a name in
  ``settings.allowed_hosts``; anything else is 400. A rebinding attack sends its own domain.
- Writes (POST, PUT, PATCH, DELETE) sent by a browser from another origin are 403: ``Origin``
  must be this ``Host`` or one of ``settings.cors_origins``, and without an ``Origin``,
  ``Sec-Fetch-Site`` (when sent) must be ``same-origin`` or ``none``. Clients that send
  neither (curl, scripts) are not browsers and pass.
- Every answer carries a Content-Security-Policy (scripts, styles and connections from this
  origin only, no framing), ``X-Frame-Options: DENY``, ``X-Content-Type-Options: nosniff``
  and ``Referrer-Policy: no-referrer``. A route may set its own policy (the API docs do).
"""

from __future__ import annotations

import json
import math
import threading
import time
from urllib.parse import urlsplit

LOCAL_NAMES = ("localhost", "127.0.0.1", "::1")
WRITES = ("POST", "PUT", "PATCH", "DELETE")
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; "
    "media-src 'self' blob:; connect-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
HEADERS = (
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
)


def split_host(value: str, default_port: int | None) -> tuple[str, int | None]:
    """("name", port) of a Host header or netloc; IPv6 brackets removed, name lower-cased."""
    value = value.strip().lower()
    if value.startswith("["):
        name, _, rest = value[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else ""
    elif value.count(":") == 1:
        name, _, port = value.partition(":")
    else:  # a bare IPv6 address, or no port
        name, port = value, ""
    if port and not port.isdigit():
        return name.rstrip("."), -1
    return name.rstrip("."), int(port) if port else default_port


class SecurityMiddleware:
    """The Host and Origin checks and the headers of :mod:`faceveil.server.security`."""

    def __init__(self, app, settings):
        self.app = app
        self.allowed = {h.strip().lower().rstrip(".") for h in settings.allowed_hosts}
        self.origins = {o.strip().rstrip("/").lower() for o in settings.cors_origins}

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        problem = self._host_problem(scope, headers.get("host"))
        if problem is None and scope["method"] in WRITES:
            problem = self._origin_problem(headers)
        if problem is not None:
            return await _refuse(send, *problem)

        async def with_headers(message):
            if message["type"] == "http.response.start":
                names = {k.lower() for k, _ in message.get("headers", ())}
                extra = [h for h in HEADERS if h[0] not in names]
                if b"content-security-policy" not in names:
                    extra.append((b"content-security-policy", CSP.encode()))
                message = {**message, "headers": [*message.get("headers", ()), *extra]}
            await send(message)

        await self.app(scope, receive, with_headers)

    def _host_problem(self, scope, host: str | None) -> tuple[int, str] | None:
        if "*" in self.allowed:
            return None
        if not host:
            return 400, "missing Host header"
        default = 443 if scope.get("scheme") == "https" else 80
        name, port = split_host(host, default)
        if name in self.allowed:
            return None
        server = scope.get("server") or (None, None)
        own = {str(server[0]).lower(), *LOCAL_NAMES} if server[0] else set(LOCAL_NAMES)
        if name in own and (server[1] is None or port == server[1]):
            return None
        return 400, (
            f"unknown Host {host[:100]!r}: use this server's address, or add the name to "
            "FACEVEIL_ALLOWED_HOSTS"
        )

    def _origin_problem(self, headers: dict[str, str]) -> tuple[int, str] | None:
        origin = headers.get("origin")
        if origin is not None:
            origin = origin.strip().rstrip("/").lower()
            if origin in self.origins or _same_origin(origin, headers.get("host", "")):
                return None
            return 403, f"cross-site request refused (Origin {origin[:100]!r})"
        site = headers.get("sec-fetch-site")
        if site is not None and site.strip().lower() not in ("same-origin", "none"):
            return 403, f"cross-site request refused (Sec-Fetch-Site {site[:20]!r})"
        return None


def _same_origin(origin: str, host: str) -> bool:
    """Origin ``scheme://name[:port]`` names the same host and port as the Host header (the
    scheme is left out: a TLS proxy in front makes it https outside, http here)."""
    if origin == "null":
        return False
    parts = urlsplit(origin)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return False
    default = 443 if parts.scheme == "https" else 80
    o_name, o_port = split_host(parts.netloc, default)
    h_name, h_port = split_host(host, default)
    return o_name == h_name and o_port == h_port


async def _refuse(send, status: int, message: str) -> None:
    body = json.dumps({"error": message, "status": status}).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"content-security-policy", CSP.encode()),
        *HEADERS,
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class LoginThrottle:
    """At most `failures` wrong tokens per client address in `window_s`; then 429 until the
    oldest of them ages out. Kept in memory (one process), for a bounded number of clients."""

    def __init__(self, failures: int = 5, window_s: float = 60.0, clients: int = 10_000):
        self.failures, self.window_s, self.clients = failures, window_s, clients
        self._seen: dict[str, list[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, client: str, now: float) -> list[float]:
        times = [t for t in self._seen.get(client, ()) if now - t < self.window_s]
        if times:
            self._seen[client] = times
        else:
            self._seen.pop(client, None)
        return times

    def retry_after(self, client: str, now: float | None = None) -> int:
        """Seconds until `client` may try again; 0 when it may now."""
        now = time.monotonic() if now is None else now
        with self._lock:
            times = self._recent(client, now)
        if len(times) < self.failures:
            return 0
        return max(1, math.ceil(self.window_s - (now - times[0])))

    def failed(self, client: str, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        with self._lock:
            if client not in self._seen and len(self._seen) >= self.clients:
                self._seen.pop(next(iter(self._seen)))  # forget the oldest client
            self._seen[client] = [*self._recent(client, now), now]
