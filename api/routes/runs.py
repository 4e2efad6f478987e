"""Reading runs: the paginated list (JSON or CSV) and one run by id."""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query, Request, Response, status

from api.deps import PrincipalDep, ReadEngineDep, scoped
from api.errors import ERROR_RESPONSES
from api.params import MAX_INT32, ScopedFilter
from api.routes.export import CSV_RESPONSE, Columns, csv_response
from api.schemas import ErrorResponse, FlowRunRead
from data import queries as q
from data.errors import NotFound
from data.filters import FlowRunFilter
from data.queries.listing import MAX_PAGE_SIZE
from data.settings import get_settings

router = APIRouter()

# A cursor carries the last row's sort key: a long flow name (Langflow allows thousands
# of characters) makes a long cursor. The URL cap (api/limits.py) still bounds it.
MAX_CURSOR_CHARS = 10_000

SortKey = Literal["started_at", "duration_ms", "status", "flow_name", "trigger_type"]
PAGE_HEADERS = {
    "X-Total-Count": {"description": "Runs matching the filter", "schema": {"type": "integer"}},
    "Link": {"description": 'Next page: `<url>; rel="next"`', "schema": {"type": "string"}},
    "X-Next-Cursor": {"description": "Cursor of the next page", "schema": {"type": "string"}},
}
LIST_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "A page of runs (JSON list); with format=csv every matching run as CSV",
        "headers": PAGE_HEADERS,
        "content": CSV_RESPONSE[200]["content"],
    },
    **ERROR_RESPONSES,
}
NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorResponse, "description": "No such run (or not yours)"}
}


def next_link(request: Request, cursor: str) -> str:
    """The next page's address. With ``FLOWRUNS_PUBLIC_URL`` it is built on that address,
    never on the request's ``Host`` header, which the client chooses: a forged Host would
    otherwise send the next request (and its API key) to another server."""
    url = request.url.remove_query_params("offset").include_query_params(cursor=cursor)
    public = get_settings().public_url
    if public:
        root = str(request.scope.get("root_path", ""))
        path = url.path[len(root) :] if root and url.path.startswith(root) else url.path
        return f'<{public}{path}?{url.query}>; rel="next"'
    return f'<{url}>; rel="next"'


@router.get(
    "/",
    response_model=list[FlowRunRead],
    responses=LIST_RESPONSES,
    summary="List runs, newest first",
)
def list_runs(
    request: Request,
    response: Response,
    engine: ReadEngineDep,
    flt: ScopedFilter,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = 50,
    offset: Annotated[int, Query(ge=0, le=MAX_INT32)] = 0,
    cursor: Annotated[
        str | None,
        Query(max_length=MAX_CURSOR_CHARS, description="From the previous page's Link header"),
    ] = None,
    order_by: SortKey = "started_at",
    order_dir: Literal["asc", "desc"] = "desc",
    include_payloads: Annotated[
        bool, Query(description="Include inputs, outputs and metadata")
    ] = True,
    include_total: Annotated[
        bool,
        Query(description="Send X-Total-Count (a COUNT over the filter)"),
    ] = True,
    format: Annotated[
        Literal["json", "csv"], Query(description="csv: stream every matching run")
    ] = "json",
    columns: Columns = None,
) -> Any:
    """The body stays a JSON list (compatible with existing clients); the total is in
    `X-Total-Count` and the next page in `Link` (keyset cursor: stable while runs arrive)."""
    if format == "csv":
        return csv_response(engine, flt, columns)
    if columns is not None:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, "columns: only with format=csv")
    page = q.list_runs(
        engine,
        flt,
        sort=order_by,
        direction=order_dir,
        limit=limit,
        offset=offset,
        cursor=cursor,
        include_payloads=include_payloads,
    )
    if include_total:
        response.headers["X-Total-Count"] = str(q.count_runs(engine, flt))
    if page.next_cursor:
        response.headers["Link"] = next_link(request, page.next_cursor)
        response.headers["X-Next-Cursor"] = page.next_cursor
    return page.runs


@router.get(
    "/{run_id}",
    response_model=FlowRunRead,
    responses={**NOT_FOUND, **ERROR_RESPONSES},
    summary="One run",
)
def get_run(run_id: uuid.UUID, engine: ReadEngineDep, principal: PrincipalDep) -> q.RunRecord:
    found = q.get_run(engine, run_id, scoped(FlowRunFilter(), principal))
    if found is None:
        raise NotFound(f"Flow run {run_id} not found")
    return found
