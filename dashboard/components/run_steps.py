"""A run's steps in the run detail: the timeline, where the time went, and one step in
full (inputs, outputs, error, model, tokens and cost). A click on a bar or the picker
below it opens a step; both write the same session key.

Step names, errors and payloads come from another program's database: text, code and
JSON elements only, never Markdown.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pandas as pd
import streamlit as st

from dashboard import data_access as da
from dashboard.charts.steps import step_label, step_timeline
from dashboard.components.payload_diff import as_text
from dashboard.formatting import human_duration, local_time, status_label
from data.queries import RunRecord
from data.steps.pricing import Price
from data.steps.queries import StepRecord, where_time_went

K_STEP, K_CHART = "rd_step", "rd_steps_chart"


def _picked_from_chart() -> None:
    state = st.session_state.get(K_CHART)
    points = (state or {}).get("selection", {}).get("points") or []
    for point in points:
        custom = point.get("customdata")
        if isinstance(custom, list | tuple) and custom and isinstance(custom[0], int):
            st.session_state[K_STEP] = custom[0]
            return


def step_cost(step: StepRecord, known: dict[str, Price]) -> str:
    if step.model is None or (step.input_tokens is None and step.output_tokens is None):
        return "-"
    price = known.get(step.model)
    if price is None:
        return "no price set for this model"
    paid = Decimal(step.input_tokens or 0) * price.input_per_million
    paid += Decimal(step.output_tokens or 0) * price.output_per_million
    return f"{paid / Decimal(1_000_000):,.6f} {price.currency}"


def _tokens(value: int | None) -> str:
    return "-" if value is None else f"{value:,}"


def step_fields(step: StepRecord, tz: str, known: dict[str, Price]) -> pd.DataFrame:
    rows = {
        "Step": step_label(step).strip(),
        "Type": step.step_type or "-",
        "Status": status_label(step.status),
        f"Started ({tz})": local_time(step.started_at, tz, "%Y-%m-%d %H:%M:%S.%f")[:-3]
        if step.started_at
        else "-",
        "Latency": human_duration(step.latency_ms),
        "Model": step.model or "-",
        "Input tokens": _tokens(step.input_tokens),
        "Output tokens": _tokens(step.output_tokens),
        "Cost": step_cost(step, known),
    }
    return pd.DataFrame({"field": list(rows), "value": list(rows.values())})


def time_text(run: RunRecord, steps: list[StepRecord]) -> list[str]:
    """'Where the time went' as plain lines."""
    spent = where_time_went(run.duration_ms, steps)
    lines = []
    if spent.slowest is not None:
        share = (
            f" ({(spent.slowest.latency_ms or 0) / run.duration_ms:.0%} of the run)"
            if run.duration_ms
            else ""
        )
        lines.append(
            f"Slowest step: {step_label(spent.slowest).strip()},"
            f" {human_duration(spent.slowest.latency_ms)}{share}"
        )
    if spent.outside_share is not None:
        lines.append(
            f"Outside every step: {human_duration(spent.outside_ms)}"
            f" ({spent.outside_share:.0%} of {human_duration(run.duration_ms)}):"
            " the engine's own work (building the graph, queueing, handling an error)."
        )
    return lines


def _payload(tab: Any, value: Any) -> None:
    if value is None:
        tab.text("(none)")
    else:
        tab.code(as_text(value), language="json", wrap_lines=True)


def _one_step(step: StepRecord, tz: str) -> None:
    fields = step_fields(step, tz, da.model_prices())
    st.dataframe(fields, hide_index=True, width="stretch", height=35 * (len(fields) + 1) + 3)
    if step.error:
        st.text("Error")
        st.code(step.error, language=None, wrap_lines=True)
    inputs, outputs = st.tabs(["Step inputs", "Step outputs"])
    _payload(inputs, step.inputs)
    _payload(outputs, step.outputs)


def render(run: RunRecord, tz: str) -> None:
    steps = da.steps_of(run.id)
    if not steps:
        return
    st.subheader(f"Steps ({len(steps):,})")
    for line in time_text(run, steps):
        st.text(line)
    if run.started_at is None:  # stored unreadable: nothing to place the steps against
        st.caption("The run's start time is unreadable: its steps are not drawn.")
    else:
        st.plotly_chart(
            step_timeline(steps, run.started_at),
            width="stretch",
            key=K_CHART,
            on_select=_picked_from_chart,
            selection_mode="points",
            config={"displaylogo": False},
        )
    unplaced = sum(1 for s in steps if s.started_at is None)
    if unplaced:
        st.caption(f"{unplaced:,} steps have no start time and are not drawn.")
    by_position = {s.position: s for s in steps}
    if st.session_state.get(K_STEP) not in by_position:
        st.session_state[K_STEP] = steps[0].position
    position = st.selectbox(
        "Step (or click its bar)",
        list(by_position),
        format_func=lambda p: step_label(by_position[p]).strip(),
        key=K_STEP,
    )
    _one_step(by_position[position], tz)
