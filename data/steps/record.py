"""Steps reported by a runner (the REST recording route, the Python recorder) as rows of
``flowrun_step``: checked, made storable, ordered as given."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from data.errors import InvalidQuery
from data.models import utcnow
from data.record_values import storable_fields
from data.types import as_utc

MAX_STEPS = 1000
FIELDS = (
    "name", "step_type", "status", "started_at", "ended_at", "latency_ms", "inputs",
    "outputs", "error", "model", "input_tokens", "output_tokens", "parent",
)  # fmt: skip


def step_rows(run_id: uuid.UUID, steps: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Rows for ``steps`` (dicts with FIELDS; ``parent`` is the index of an earlier step).
    Ids are derived from the run and the position, so writing them twice writes the
    same rows."""
    if len(steps) > MAX_STEPS:
        raise InvalidQuery(f"steps: at most {MAX_STEPS} per run")
    ids = [uuid.uuid5(run_id, f"step-{position}") for position in range(len(steps))]
    rows = []
    for position, step in enumerate(steps):
        unknown = set(step) - set(FIELDS)
        if unknown:
            raise InvalidQuery(f"steps[{position}]: unknown field {sorted(unknown)[0]!r}")
        parent = step.get("parent")
        if parent is not None and not (isinstance(parent, int) and 0 <= parent < position):
            raise InvalidQuery(f"steps[{position}].parent: the index of an earlier step")
        values = storable_fields(
            f"step {position} of run {run_id}",
            {"inputs": step.get("inputs"), "outputs": step.get("outputs")},
            {
                "name": str(step.get("name") or "")[:500] or f"step {position}",
                "error": step.get("error"),
            },
        )
        rows.append(
            {
                "id": ids[position],
                "run_id": run_id,
                "parent_id": None if parent is None else ids[parent],
                "position": position,
                "step_type": step.get("step_type"),
                "status": step.get("status") or "success",
                "started_at": _aware(step.get("started_at")),
                "ended_at": _aware(step.get("ended_at")),
                "latency_ms": step.get("latency_ms"),
                "model": step.get("model"),
                "input_tokens": step.get("input_tokens"),
                "output_tokens": step.get("output_tokens"),
                "attributes": None,
                **values,
            }
        )
    return rows


def _aware(value: Any) -> datetime | None:
    return None if value is None else as_utc(value)


@contextmanager
def timed_step(steps: list[dict[str, Any]], name: str, **fields: Any) -> Iterator[dict[str, Any]]:
    """Append one step to ``steps`` around the enclosed block: its start, end, latency and
    (if it raises) failure with the exception's text. The yielded dict takes more fields
    (outputs, model, input_tokens, output_tokens)."""
    step: dict[str, Any] = {"name": name, **fields, "started_at": utcnow()}
    clock = time.perf_counter()
    steps.append(step)
    try:
        yield step
    except BaseException as exc:
        step.update(status="failure", error=f"{type(exc).__name__}: {exc}"[:10_000])
        raise
    finally:
        step["ended_at"] = utcnow()
        step["latency_ms"] = round((time.perf_counter() - clock) * 1000)
        step.setdefault("status", "success")
