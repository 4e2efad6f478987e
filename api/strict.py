"""Strict input at the door: JSON bodies that can be stored, and no unknown parameters.

- ``StrictJSONRoute`` parses a route's JSON body itself before FastAPI does: text that
  is not JSON is a 400, a body that is not declared as JSON a 415, and JSON that cannot
  be stored (lone surrogates, NaN/Infinity, huge numbers, nesting beyond
  ``MAX_JSON_DEPTH``) a 422 naming the field. FastAPI then validates the parsed value.
- ``reject_unknown_query`` answers 400 to any query parameter the route does not
  declare, so a misspelt filter can never widen a read or a delete, and to a
  single-valued parameter given more than once (``dry_run=true&dry_run=false``):
  FastAPI would silently keep the last one, so a client's intent is ambiguous.
"""

from __future__ import annotations

import email.message
from collections.abc import Callable, Coroutine, Iterator
from typing import Any

from fastapi import HTTPException, Request, Response, status
from fastapi._compat import field_annotation_is_sequence
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from data.json_values import MAX_JSON_DEPTH, find_problem, printable, strict_loads

MAX_NAMES_SHOWN = 5


def _is_json_content_type(value: str | None) -> bool:
    if not value:
        return False
    message = email.message.Message()
    message["content-type"] = value
    subtype = message.get_content_subtype()
    return message.get_content_maintype() == "application" and (
        subtype == "json" or subtype.endswith("+json")
    )


def parse_json_body(raw: bytes, content_type: str | None) -> Any:
    """The body as a JSON value that can be stored; ``HTTPException`` otherwise."""
    if not _is_json_content_type(content_type):
        raise HTTPException(
            status.HTTP_415_UNSUPPORTED_MEDIA_TYPE,
            "body: send JSON with the header Content-Type: application/json",
        )
    try:
        value = strict_loads(raw)
    except RecursionError:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            f"body: nested deeper than {MAX_JSON_DEPTH} levels",
        ) from None
    except UnicodeDecodeError:
        raise HTTPException(
            status.HTTP_400_BAD_REQUEST, "body: not valid JSON (not UTF-8 text)"
        ) from None
    except ValueError as exc:
        reason = getattr(exc, "msg", None) or "malformed"
        where = f" at character {exc.pos}" if hasattr(exc, "pos") else ""
        raise HTTPException(
            status.HTTP_400_BAD_REQUEST, f"body: not valid JSON ({reason}{where})"
        ) from None
    problem = find_problem(value, "body")
    if problem is not None:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, problem)
    return value


class StrictJSONRoute(APIRoute):
    """An ``APIRoute`` whose JSON body is checked by ``parse_json_body`` first."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handle = super().get_route_handler()
        if self.body_field is None:
            return handle

        async def checked(request: Request) -> Response:
            raw = await request.body()
            if raw:
                # Starlette's Request.json() returns this instead of parsing again.
                request._json = parse_json_body(raw, request.headers.get("content-type"))
            return await handle(request)

        return checked


def _dependants(root: Dependant) -> Iterator[Dependant]:
    pending = [root]
    while pending:
        current = pending.pop()
        yield current
        pending.extend(current.dependencies)


def declared_query_names(route: APIRoute) -> frozenset[str]:
    """Every query parameter name (alias) the route and its dependencies declare."""
    dependants = _dependants(route.dependant)
    return frozenset(field.alias for dependant in dependants for field in dependant.query_params)


def single_valued_query_names(route: APIRoute) -> frozenset[str]:
    """The declared query parameters that take one value. FastAPI's own rule decides
    (a ``list[...]`` annotation reads every occurrence, anything else only the last),
    so this set can never disagree with how the value is actually read."""
    return frozenset(
        field.alias
        for dependant in _dependants(route.dependant)
        for field in dependant.query_params
        if not field_annotation_is_sequence(field.field_info.annotation)
    )


def _refuse_repeats(request: Request, route: APIRoute) -> None:
    single = single_valued_query_names(route)
    repeated = sorted(name for name in single if len(request.query_params.getlist(name)) > 1)
    if repeated:
        shown = ", ".join(repeated[:MAX_NAMES_SHOWN])
        raise HTTPException(
            status.HTTP_400_BAD_REQUEST,
            f"query parameter(s) given more than once: {shown}; each takes one value",
        )


def reject_unknown_query(request: Request) -> None:
    """400 when the query string holds a parameter the matched route does not declare,
    or repeats one that takes a single value."""
    route = request.scope.get("route")
    if not isinstance(route, APIRoute):
        return
    allowed = declared_query_names(route)
    unknown = sorted({name for name in request.query_params if name not in allowed})
    if not unknown:
        _refuse_repeats(request, route)
        return
    shown = ", ".join(printable(name) for name in unknown[:MAX_NAMES_SHOWN])
    accepted = ", ".join(sorted(allowed)) or "none"
    raise HTTPException(
        status.HTTP_400_BAD_REQUEST,
        f"unknown query parameter(s): {shown}; this endpoint accepts: {accepted}",
    )
