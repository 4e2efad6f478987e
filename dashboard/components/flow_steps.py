"""The Flows page's token and component sections: tokens and cost per flow, tokens by
model, and per-component health (runs, failures, p50/p95, first failures), all computed
in SQL. Model and component names are stored text: tables and text elements only."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard import data_access as da
from dashboard.charts.tokens import tokens_by_model_bars
from dashboard.formatting import cost_text, md_escape
from data.filters import FlowRunFilter


def flow_tokens_view(
    table: pd.DataFrame, labels: dict[str, str], by_flow_model: pd.DataFrame
) -> pd.DataFrame:
    """Per flow with a token count: tokens, runs counted, tokens per run, and the cost of
    its models' tokens where every model has a price (else the cost is empty: a partial
    sum would read as the whole)."""
    counted = table[table["token_runs"] > 0]
    flow_ids = counted["flow_id"].astype(str)
    cost = pd.Series(float("nan"), index=counted.index)
    if not by_flow_model.empty:
        frame = by_flow_model.assign(flow_id=by_flow_model["flow_id"].astype(str))
        complete = frame.groupby("flow_id")["cost"].apply(lambda c: c.notna().all())
        sums = frame.groupby("flow_id")["cost"].sum()
        cost = flow_ids.map(lambda f: sums[f] if complete.get(f, False) else float("nan"))
    return pd.DataFrame(
        {
            "flow": [labels.get(f, n) for f, n in zip(flow_ids, counted["flow_name"], strict=True)],
            "tokens": counted["total_tokens"].astype("int64"),
            "runs with a count": counted["token_runs"].astype("int64"),
            "tokens per run": counted["total_tokens"] / counted["token_runs"],
            "cost": cost.astype("float64"),
        }
    ).sort_values("tokens", ascending=False)


def tokens(flt: FlowRunFilter, table: pd.DataFrame, labels: dict[str, str]) -> None:
    if int(table["token_runs"].sum()) == 0:
        return
    st.subheader("Tokens per flow")
    view = flow_tokens_view(table, labels, da.flow_model_tokens(flt))
    st.dataframe(
        view,
        hide_index=True,
        width="stretch",
        column_config={
            "tokens": st.column_config.NumberColumn(format="localized"),
            "runs with a count": st.column_config.NumberColumn(format="localized"),
            "tokens per run": st.column_config.NumberColumn(format="%.0f"),
            "cost": st.column_config.NumberColumn(format="%.6f"),
        },
    )
    by_model = da.model_tokens(flt)
    if by_model.empty:
        return
    st.subheader("Tokens by model")
    st.plotly_chart(tokens_by_model_bars(by_model), width="stretch", key="flows_models")
    st.dataframe(by_model, hide_index=True, width="stretch")
    st.caption(md_escape(cost_text(by_model)) + " Prices: per million tokens, set below.")


def components(flt: FlowRunFilter) -> None:
    stats = da.component_table(flt)
    if stats.empty:
        return
    st.subheader("Components")
    view = stats.assign(
        failure_rate=stats["failure_rate"] * 100,
        p50_s=stats["p50_ms"] / 1000,
        p95_s=stats["p95_ms"] / 1000,
    ).drop(columns=["p50_ms", "p95_ms"])
    st.dataframe(
        view.rename(
            columns={
                "failure_rate": "failure rate",
                "first_failures": "first to fail",
                "p50_s": "p50 (s)",
                "p95_s": "p95 (s)",
            }
        ),
        hide_index=True,
        width="stretch",
        column_config={
            "failure rate": st.column_config.NumberColumn(format="%.1f%%"),
            "p50 (s)": st.column_config.NumberColumn(format="%.3f"),
            "p95 (s)": st.column_config.NumberColumn(format="%.3f"),
        },
    )
    st.caption(
        "Per component (top-level steps) of the runs these filters select. "
        "First to fail: failed runs in which this component was the first step to fail."
    )
