"""CSV export of the filtered, scoped view, streamed in chunks."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, status
from fastapi.responses import StreamingResponse
from sqlalchemy import Engine

from api.deps import ReadEngineDep
from api.errors import ERROR_RESPONSES
from api.params import ScopedFilter
from data.errors import InvalidQuery
from data.export import EXPORT_COLUMNS, iter_csv, validate_columns
from data.filters import FlowRunFilter
from data.models import utcnow

router = APIRouter()

Columns = Annotated[
    str | None,
    Query(
        max_length=2000,
        description=f"Comma-separated subset of: {', '.join(EXPORT_COLUMNS)}",
    ),
]
CSV_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "Every matching run as CSV, newest first",
        "content": {"text/csv": {"schema": {"type": "string"}}},
    }
}


# Repeating a column is harmless (duplicates are dropped) up to this many names; more
# is not a request anyone means (600 columns once took the export 63 s).
MAX_COLUMN_NAMES = 2 * len(EXPORT_COLUMNS)


def parse_columns(columns: str | None) -> tuple[str, ...]:
    """The chosen columns in order, each once. 400 (``HTTPException``) for unknown
    names, an empty list, or more than ``MAX_COLUMN_NAMES`` names."""
    if columns is None:
        return EXPORT_COLUMNS
    names = [name.strip() for name in columns.split(",") if name.strip()]
    if len(names) > MAX_COLUMN_NAMES:
        raise HTTPException(
            status.HTTP_400_BAD_REQUEST,
            f"columns: {len(names)} names given; at most {MAX_COLUMN_NAMES} (each column once)",
        )
    try:
        return validate_columns(dict.fromkeys(names))
    except InvalidQuery as exc:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, str(exc)) from None


def csv_response(engine: Engine, flt: FlowRunFilter, columns: str | None) -> StreamingResponse:
    """Stream ``iter_csv``; the first chunk is read before answering so that a bad
    column or an unreachable database still becomes a proper 4xx/503, not a cut stream."""
    chunks = iter_csv(engine, flt, columns=parse_columns(columns))
    head = list(itertools.islice(chunks, 2))
    body: Iterator[str] = itertools.chain(head, chunks)
    filename = f"flow-runs-{utcnow():%Y%m%dT%H%M%SZ}.csv"
    return StreamingResponse(
        body,
        media_type="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@router.get(
    "/export.csv",
    response_class=StreamingResponse,
    responses={**CSV_RESPONSE, **ERROR_RESPONSES},
    summary="Export matching runs as CSV",
)
def export_csv(
    engine: ReadEngineDep, flt: ScopedFilter, columns: Columns = None
) -> StreamingResponse:
    """Cells starting with `= + - @`, tab or CR are prefixed with `'`; JSON columns are
    serialised; times are UTC ISO-8601."""
    return csv_response(engine, flt, columns)
