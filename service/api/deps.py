"""Request dependencies: the service, a database session, and the caller with their role (bearer tokens)."""
from __future__ import annotations

from collections.abc import AsyncIterator

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from service.api.core import Caller, Service
from service.store import crud

bearer = HTTPBearer(auto_error=False, description="a token from `xxgk token create --role …`")


# The dependencies are coroutines: FastAPI runs a plain function dependency in its thread pool, one hop per
# dependency and request. None of them waits on anything but a token's first lookup (then cached).


async def service(request: Request) -> Service:
    return request.app.state.service


async def session(svc: Service = Depends(service)) -> AsyncIterator[Session]:
    """A session for the request (no connection is taken until the endpoint queries)."""
    with svc.sessions() as s:
        yield s


async def caller(svc: Service = Depends(service), creds: HTTPAuthorizationCredentials | None = Depends(bearer),
           db: Session = Depends(session)) -> Caller:
    if svc.cfg.local:
        return Caller("local", "admin")
    if creds is None or creds.scheme.lower() != "bearer":
        raise HTTPException(401, "a bearer token is required (xxgk token create --role …)",
                            headers={"WWW-Authenticate": "Bearer"})
    known = svc.tokens.get(creds.credentials)
    if known is not None:
        return known
    token = crud.lookup_token(db, creds.credentials)
    if token is None:
        raise HTTPException(401, "unknown or revoked token", headers={"WWW-Authenticate": "Bearer"})
    who = Caller(token.name, token.role)
    svc.tokens.put(creds.credentials, who)
    return who


def require(*roles: str):
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
