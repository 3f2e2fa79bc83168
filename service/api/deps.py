"""Request dependencies: the service, a database session, and the caller with their role (bearer tokens)."""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from service.api.core import Service
from service.store import crud

bearer = HTTPBearer(auto_error=False, description="a token from `xxgk token create --role …`")


@dataclass
class Caller:
    name: str
    role: str


def service(request: Request) -> Service:
    return request.app.state.service


def session(svc: Service = Depends(service)) -> Iterator[Session]:
    with svc.sessions() as s:
        yield s


def caller(svc: Service = Depends(service), creds: HTTPAuthorizationCredentials | None = Depends(bearer),
           db: Session = Depends(session)) -> Caller:
    if svc.cfg.local:
        return Caller("local", "admin")
    if creds is None or creds.scheme.lower() != "bearer":
        raise HTTPException(401, "a bearer token is required (xxgk token create --role …)",
                            headers={"WWW-Authenticate": "Bearer"})
    token = crud.lookup_token(db, creds.credentials)
    if token is None:
        raise HTTPException(401, "unknown or revoked token", headers={"WWW-Authenticate": "Bearer"})
    return Caller(token.name, token.role)


def require(*roles: str):
    """A dependency admitting callers with one of ``roles`` (admin is always admitted)."""
    allowed = set(roles) | {"admin"}

    def check(who: Caller = Depends(caller)) -> Caller:
        if who.role not in allowed:
            raise HTTPException(403, f"role {who.role} may not do this (needs {' or '.join(sorted(allowed))})")
        return who

    return check


READ = require("uploader", "reviewer")
UPLOAD = require("uploader")
REVIEW = require("reviewer")
ADMIN = require("admin")
