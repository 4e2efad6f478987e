"""A run's steps as a timeline (Gantt): one bar per step from its start to its end,
measured from the run's start, coloured by status. Bars carry the step's position in
``customdata`` so a click opens that step."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import plotly.graph_objects as go

from dashboard.charts.colours import ordered_statuses, status_colour
from dashboard.charts.labels import plain
from data.steps.queries import StepRecord
from data.types import as_utc

HOVER = "%{y}<br>%{customdata[1]} · %{customdata[2]}<br>from %{base:,.0f} ms<extra></extra>"
ROW_PX = 28


def step_label(step: StepRecord) -> str:
    """``3. OpenAI`` (children indented under their parent): unique per run."""
    marker = "  ↳ " if step.parent_id is not None else ""
    return f"{marker}{step.position + 1}. {step.name}"


def _offsets(step: StepRecord, origin: datetime) -> tuple[float, float] | None:
    if step.started_at is None:
        return None
    start = (as_utc(step.started_at) - origin).total_seconds() * 1000
    if step.latency_ms is not None:
        length = float(step.latency_ms)
    elif step.ended_at is not None:
        length = (as_utc(step.ended_at) - as_utc(step.started_at)).total_seconds() * 1000
    else:
        return None
    return start, max(length, 0.0)


def _duration_text(ms: float) -> str:
    return f"{ms / 1000:,.2f} s" if ms >= 1000 else f"{ms:,.0f} ms"


def step_timeline(steps: Sequence[StepRecord], run_started: datetime) -> go.Figure:
    """Steps without a start or an end cannot be placed: the caller lists them."""
    origin = as_utc(run_started)
    placed = [(s, o) for s in steps if (o := _offsets(s, origin)) is not None]
    order = [step_label(s) for s, _ in placed]
    fig = go.Figure()
    for status in ordered_statuses(s.status for s, _ in placed):
        rows = [(s, o) for s, o in placed if s.status == status]
        fig.add_trace(
            go.Bar(
                name=plain(status),
                orientation="h",
                y=[plain(step_label(s)) for s, _ in rows],
                x=[length for _, (_, length) in rows],
                base=[start for _, (start, _) in rows],
                marker_color=status_colour(status),
                customdata=[
                    [s.position, plain(status), _duration_text(length)] for s, (_, length) in rows
                ],
                hovertemplate=HOVER,
            )
        )
    fig.update_layout(
        barmode="overlay",
        height=120 + ROW_PX * max(len(order), 1),
        margin={"l": 10, "r": 10, "t": 30, "b": 40},
        legend_title_text="status",
        xaxis_title="ms since the run started",
        clickmode="event+select",
    )
    fig.update_yaxes(
        categoryorder="array", categoryarray=[plain(label) for label in order], autorange="reversed"
    )
    return fig
