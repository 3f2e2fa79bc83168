"""Request dependencies: the service and the caller with their role (bearer tokens).

Coroutines (a plain function dependency would cost a hop to the thread pool per request): a token seen in the
last seconds is answered from the cache, a new one looked up on the asyncio engine. Endpoints reach the store
themselves (see routes)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from service.api.core import Caller, Service

bearer = HTTPBearer(auto_error=False, description="a token from `xxgk token create --role …`")


async def service(request: Request) -> Service:
    svc: Service = request.app.state.service
    return svc


LOOPBACK = {"localhost", "127.0.0.1", "::1", "[::1]"}


def _host_of(value: str) -> str:
    """The host of a Host header (``name:port``, ``[::1]:port``) or of an Origin (``scheme://host:port``)."""
    value = value.split("://", 1)[-1].split("/", 1)[0].strip().lower()
    if value.startswith("["):
        return value.split("]", 1)[0] + "]"
    return value.rsplit(":", 1)[0] if value.count(":") == 1 else value


def local_only(request: Request) -> None:
    """Local mode (no tokens: the one user of this machine) answers only requests addressed to the loopback and
    sent from a page of it: a web page elsewhere that makes the user's browser post here (a foreign Origin, or a
    foreign Host by DNS rebinding) is refused."""
    host = _host_of(request.headers.get("host", ""))
    origin = request.headers.get("origin")
    if host not in LOOPBACK or (origin is not None and _host_of(origin) not in LOOPBACK):
        raise HTTPException(403, "local mode answers only the loopback (Host and Origin localhost or 127.0.0.1)")


async def caller(
    request: Request,
    svc: Service = Depends(service),
    creds: HTTPAuthorizationCredentials | None = Depends(bearer),
) -> Caller:
    if svc.cfg.local:
        local_only(request)
        return Caller("local", "admin")
    if creds is None or creds.scheme.lower() != "bearer":
        raise HTTPException(
            401, "a bearer token is required (xxgk token create --role …)", headers={"WWW-Authenticate": "Bearer"}
        )
    who = await svc.token_caller(creds.credentials)
    if who is None:
        raise HTTPException(401, "unknown or revoked token", headers={"WWW-Authenticate": "Bearer"})
    return who


def require(*roles: str) -> Callable[..., Awaitable[Caller]]:
    """A dependency admitting callers with one of ``roles`` (admin is always admitted)."""
    allowed = set(roles) | {"admin"}

    async def check(who: Caller = Depends(caller)) -> Caller:
        if who.role not in allowed:
            raise HTTPException(403, f"role {who.role} may not do this (needs {' or '.join(sorted(allowed))})")
        return who

    return check


READ = require("uploader", "reviewer")
UPLOAD = require("uploader")
REVIEW = require("reviewer")
ADMIN = require("admin")
