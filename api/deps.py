"""Request dependencies: the engine, the caller behind an API key, and the caller's scope."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Request, Security, status
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import Engine

from data.accounts import Principal, authenticate
from data.db import get_engine, get_read_engine
from data.scope import scope_user_id, scoped
from data.settings import get_settings

# The scope rule lives in the data layer (the dashboard uses it too); routes import it here.
__all__ = ["scope_user_id", "scoped"]

api_key_header = APIKeyHeader(
    name="x-api-key",
    auto_error=False,
    description="An API key created with `flowruns api-key create --user <name>`.",
)
bearer_token = HTTPBearer(auto_error=False, description="The same API key as a Bearer token.")


def provide_engine(request: Request) -> Engine:
    """The cached engine for the URL the app was created with (default: settings)."""
    url = request.app.state.database_url or get_settings().resolved_database_url
    return get_engine(url)


def provide_read_engine(request: Request) -> Engine:
    """Routes that only read: the replica's read-only engine when one is configured,
    else the primary's. A replica may lag: a run just written can be missing there."""
    state = request.app.state
    if state.read_database_url:
        return get_read_engine(state.read_database_url)
    if state.database_url:  # an app made for one database reads from it too
        return get_engine(state.database_url)
    return get_read_engine()


EngineDep = Annotated[Engine, Depends(provide_engine)]
ReadEngineDep = Annotated[Engine, Depends(provide_read_engine)]


def _unauthorized(detail: str) -> HTTPException:
    return HTTPException(
        status_code=status.HTTP_401_UNAUTHORIZED,
        detail=detail,
        headers={"WWW-Authenticate": "Bearer"},
    )


def current_principal(
    engine: EngineDep,
    api_key: Annotated[str | None, Security(api_key_header)] = None,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Security(bearer_token)] = None,
) -> Principal:
    """The user behind the request's API key (``x-api-key`` wins over ``Authorization``)."""
    plain = api_key or (credentials.credentials if credentials else None)
    if not plain:
        raise _unauthorized(
            "Missing API key: send it in the x-api-key header or as Authorization: Bearer <key>"
        )
    principal = authenticate(engine, plain)
    if principal is None:
        raise _unauthorized("Invalid or revoked API key")
    return principal


PrincipalDep = Annotated[Principal, Depends(current_principal)]


def require_writable() -> None:
    """Deletes are refused when the deployment is configured read-only."""
    if get_settings().read_only:
        raise HTTPException(
            status_code=status.HTTP_403_FORBIDDEN,
            detail="This deployment is read-only (FLOWRUNS_READ_ONLY): deletes are disabled",
        )
