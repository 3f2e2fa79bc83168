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


async def caller(
    svc: Service = Depends(service),
    creds: HTTPAuthorizationCredentials | None = Depends(bearer),
) -> Caller:
    if svc.cfg.local:
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
