"""Exception -> JSON response mapping. Every error body is ``{"detail": "<one line>"}``;
no traceback ever reaches a client."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError, OperationalError, ProgrammingError

from api.schemas import ErrorResponse
from data.db import DatabaseUnavailable
from data.errors import Conflict, InvalidQuery, NotFound
from data.queries.cursors import InvalidCursor

log = logging.getLogger(__name__)

UNAVAILABLE = "Database unavailable: try again later"
SCHEMA_MISSING = "Database schema missing: run `flowruns init-db`"

ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorResponse, "description": text}
    for code, text in (
        (401, "Missing, invalid or revoked API key"),
        (422, "Invalid input (parameter or body)"),
        (503, "Database unreachable or not migrated"),
    )
}


# Answers any route can give (a route's own description of a code wins over these).
COMMON_RESPONSES: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorResponse, "description": text}
    for code, text in (
        (400, "Unknown query parameter, invalid cursor or refused request"),
        (413, "Request body larger than FLOWRUNS_MAX_BODY_BYTES"),
        (414, "URL too long"),
        (431, "Request headers too large"),
    )
}


def error_response(code: int, detail: str, **headers: str) -> JSONResponse:
    return JSONResponse({"detail": detail}, status_code=code, headers=headers or None)


def describe_request_errors(exc: RequestValidationError) -> str:
    """``query.limit: Input should be less than or equal to 500; ...``"""
    parts = []
    for error in exc.errors():
        location = ".".join(str(part) for part in error.get("loc", ()))
        parts.append(f"{location}: {error.get('msg', 'invalid value')}")
    return "; ".join(parts) or "invalid request"


def _is_missing_table(exc: ProgrammingError) -> bool:
    # Only a missing table means "not migrated" (PostgreSQL's undefined_table, 42P01):
    # other errors that say "does not exist" (an operator, a function) are not that.
    orig = exc.orig
    return getattr(orig, "sqlstate", None) == "42P01" or "no such table" in str(orig)


async def _validation(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return error_response(422, describe_request_errors(exc))


async def _invalid_query(_: Request, exc: Exception) -> JSONResponse:
    return error_response(422, str(exc))


async def _bad_request(_: Request, exc: Exception) -> JSONResponse:
    return error_response(400, str(exc))


async def _not_found(_: Request, exc: Exception) -> JSONResponse:
    return error_response(404, str(exc))


async def _conflict(_: Request, exc: Exception) -> JSONResponse:
    return error_response(409, str(exc))


async def _data_error(_: Request, exc: Exception) -> JSONResponse:
    log.info("database rejected a value: %s", exc)
    return error_response(422, "A value was rejected by the database (out of range or invalid)")


async def _unavailable(_: Request, exc: Exception) -> JSONResponse:
    log.warning("database unavailable: %s", exc)
    if isinstance(exc, DatabaseUnavailable):
        return error_response(503, str(exc) or UNAVAILABLE)
    missing = "no such table" in str(exc)
    return error_response(503, SCHEMA_MISSING if missing else UNAVAILABLE)


async def _programming(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ProgrammingError)
    if _is_missing_table(exc):
        log.warning("database schema missing: %s", exc)
        return error_response(503, SCHEMA_MISSING)
    return await _unexpected(request, exc)


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return error_response(status.HTTP_500_INTERNAL_SERVER_ERROR, "Internal server error")


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(InvalidQuery, _invalid_query)
    app.add_exception_handler(InvalidCursor, _bad_request)
    app.add_exception_handler(NotFound, _not_found)
    app.add_exception_handler(Conflict, _conflict)
    app.add_exception_handler(DataError, _data_error)
    app.add_exception_handler(OperationalError, _unavailable)
    app.add_exception_handler(DatabaseUnavailable, _unavailable)
    app.add_exception_handler(ProgrammingError, _programming)
    app.add_exception_handler(Exception, _unexpected)
