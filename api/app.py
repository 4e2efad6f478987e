"""The REST shim: ``uvicorn --factory api.app:create_app``. Built per call, never at import."""

from __future__ import annotations

from fastapi import APIRouter, Depends, FastAPI
from fastapi.middleware.cors import CORSMiddleware

from api.deps import current_principal
from api.errors import COMMON_RESPONSES, install_error_handlers
from api.limits import RequestLimits
from api.routes import audit, deletion, export, health, recording, runs, stats, steps
from api.strict import reject_unknown_query
from data.settings import get_settings

API_PREFIX = "/api/v1/flow-runs"


def flow_runs_router() -> APIRouter:
    """Every /api/v1 route, behind the API key. Fixed paths (/stats, /export.csv) are
    included before the ``/{run_id}`` routes so they are matched first."""
    router = APIRouter(
        prefix=API_PREFIX, tags=["flow-runs"], dependencies=[Depends(current_principal)]
    )
    for module in (stats, export, runs, steps, recording, deletion):
        router.include_router(module.router)
    return router


def add_cors(app: FastAPI, origins: list[str]) -> None:
    """Let a browser front end on ``origins`` (e.g. the kozmoai UI) call the API and read
    the paging headers. Nothing is added when no origin is configured."""
    if not origins:
        return
    app.add_middleware(
        CORSMiddleware,
        allow_origins=origins,
        allow_methods=["GET", "POST", "PATCH", "DELETE"],
        allow_headers=["x-api-key", "authorization", "content-type"],
        expose_headers=["X-Total-Count", "Link", "X-Next-Cursor", "Content-Disposition"],
    )


def create_app(database_url: str | None = None, read_database_url: str | None = None) -> FastAPI:
    """The API over ``database_url`` (default: ``FLOWRUNS_DATABASE_URL``, else the
    embedded SQLite file), reading from ``read_database_url`` (default:
    ``FLOWRUNS_READ_DATABASE_URL``, else the primary). Engines are created lazily."""
    app = FastAPI(
        title="FlowRun History API",
        version="1.0.0",
        description="Execution history of flow runs: list, filter, stats, export, record.",
        # Every route refuses query parameters it does not declare (a typo never widens
        # a delete).
        dependencies=[Depends(reject_unknown_query)],
        responses=COMMON_RESPONSES,
    )
    app.state.database_url = database_url
    app.state.read_database_url = read_database_url
    install_error_handlers(app)
    settings = get_settings()
    # Added before CORS, so CORS (outermost) also decorates the limits' error answers.
    app.add_middleware(RequestLimits, max_body_bytes=settings.max_body_bytes)
    add_cors(app, settings.cors_origin_list)
    app.include_router(health.router)
    app.include_router(flow_runs_router())
    app.include_router(audit.router)
    return app
