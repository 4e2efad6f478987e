"""A Langflow trace, its spans and its job row as one of our runs with its steps (the
mapping table in docs/langflow.md). Pure functions: no database here.

- id: the trace id (so permalinks and job rows line up); started_at, ended_at,
  duration_ms: start_time, end_time, total_latency_ms.
- status: ok -> success, error -> failure; a job cancelled -> cancelled, timed_out ->
  failure with error type Timeout (data.langflow.jobs).
- error: the failing span's text; its type is the exception name when the text starts
  with one ("ValueError: ..."), else the failing component's name.
- user_id: the flow's owner (the trace has no user). trigger: api when a job row has the
  trace's id (API, webhook and v2 runs), manual otherwise (playground builds).
- components_executed: the component spans (the LLM calls inside them are steps too).
- total_tokens: the trace's; per step, input and output tokens and the model from the
  span's ``gen_ai.*`` attributes.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from data.langflow.reader import Trace, as_json, as_time, as_uuid
from data.record_values import storable_fields

STATUSES = {"ok": "success", "error": "failure", "unset": "unset"}
EXCEPTION_NAME = re.compile(r"^([A-Z][A-Za-z0-9_]*(?:Error|Exception|Timeout|Exit|Interrupt))\b")
INPUT_TOKENS = "gen_ai.usage.input_tokens"
OUTPUT_TOKENS = "gen_ai.usage.output_tokens"
MODEL_KEYS = ("gen_ai.response.model", "gen_ai.request.model")
MAX_ERROR_CHARS = 10_000
# The most a count is taken as (a larger one is another engine's garbage).
MAX_COUNT = 2**40
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Mapped:
    run: dict[str, Any]
    steps: list[dict[str, Any]]


def count(value: Any) -> int | None:
    """A whole, non-negative count within range, else None."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        number = int(value)
    except (TypeError, ValueError):
        return None
    return number if 0 <= number <= MAX_COUNT and number == float(value) else None


def _model(attributes: Any) -> str | None:
    if not isinstance(attributes, dict):
        return None
    for key in MODEL_KEYS:
        if isinstance(attributes.get(key), str):
            return str(attributes[key])[:200]
    return None


def step_of(span: Any, run_id: uuid.UUID, position: int) -> dict[str, Any]:
    attributes = as_json(span.attributes)
    started, ended = as_time(span.start_time), as_time(span.end_time)
    tokens = attributes if isinstance(attributes, dict) else {}
    values = storable_fields(
        f"step {span.id} of run {run_id}",
        {
            "inputs": as_json(span.inputs),
            "outputs": as_json(span.outputs),
            "attributes": attributes,
        },
        {"name": str(span.name or "")[:500], "error": _error_text(span.error)},
    )
    return {
        "id": as_uuid(span.id) or uuid.uuid5(run_id, str(span.id)),
        "run_id": run_id,
        "parent_id": as_uuid(span.parent_span_id),
        "position": position,
        "step_type": None if span.span_type is None else str(span.span_type).lower()[:50],
        "status": STATUSES.get(str(span.status or "").lower(), str(span.status or "")[:50]),
        "started_at": started,
        "ended_at": ended,
        "latency_ms": count(span.latency_ms),
        "model": _model(attributes),
        "input_tokens": count(tokens.get(INPUT_TOKENS)),
        "output_tokens": count(tokens.get(OUTPUT_TOKENS)),
        **values,
    }


def _error_text(value: Any) -> str | None:
    return None if value is None else str(value)[:MAX_ERROR_CHARS]


def _ordered(spans: list[Any]) -> list[Any]:
    """By start, parents before their children when they start together."""
    return sorted(
        spans,
        key=lambda s: (
            as_time(s.start_time) is None,
            as_time(s.start_time) or 0,
            s.parent_span_id is not None,
        ),
    )


def error_type_of(message: str | None, component: str | None) -> str | None:
    if message:
        found = EXCEPTION_NAME.match(message.strip())
        if found:
            return found.group(1)
    return component[:200] if component else None


def map_trace(trace: Trace, spans: list[Any], owner: uuid.UUID | None, has_job: bool) -> Mapped:
    """Our run and its steps for one trace."""
    ordered = _ordered(spans)
    steps = [step_of(span, trace.id, position) for position, span in enumerate(ordered)]
    components = [s for s in steps if s["parent_id"] is None]
    failing = next((s for s in components if s["status"] == "failure"), None)
    failing = failing or next((s for s in steps if s["status"] == "failure"), None)
    status = STATUSES.get(trace.status, trace.status[:50] or "unset")
    message = failing["error"] if failing else None
    if status == "failure" and message is None and failing is None:
        message = "Langflow recorded the run as failed without a failing component"
    run = {
        "id": trace.id,
        "flow_id": trace.flow_id,
        "user_id": owner,
        "session_id": trace.session_id,
        "status": status,
        "started_at": trace.start_time,
        "ended_at": trace.end_time,
        "duration_ms": count(trace.total_latency_ms),
        "error_message": message,
        "error_type": error_type_of(message, failing["name"] if failing else None)
        if status == "failure"
        else None,
        "trigger_type": "api" if has_job else "manual",
        "components_executed": len(components),
        "total_tokens": count(trace.total_tokens),
        "inputs": components[0]["inputs"] if components else None,
        "outputs": components[-1]["outputs"] if components else None,
        "metadata_": {"source": "langflow", "trace_name": trace.name},
    }
    return Mapped(run=run, steps=steps)
