"""Per-model prices (per million input and output tokens), set by whoever may change
the dashboard's data (hidden in read-only mode). Stored in the database; no price table
is bundled because prices change."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard import data_access as da
from dashboard.formatting import md_escape
from data.errors import InvalidQuery
from data.steps.pricing import delete_price, set_price


def prices_frame() -> pd.DataFrame:
    known = da.model_prices()
    return pd.DataFrame(
        {
            "model": list(known),
            "input per million": [str(p.input_per_million) for p in known.values()],
            "output per million": [str(p.output_per_million) for p in known.values()],
            "currency": [p.currency for p in known.values()],
        }
    )


K_OUTCOME = "price_outcome"


def _save() -> None:
    """The form's callback: runs before the page, so every table shows the new price."""
    state = st.session_state
    model = (state.get("price_model_typed") or "").strip() or (state.get("price_model_pick") or "")
    who = da.audit_context().actor
    try:
        saved = da.call(
            set_price,
            model,
            state.get("price_in", ""),
            state.get("price_out", ""),
            who,
            state.get("price_currency", ""),
        )
    except InvalidQuery as exc:
        state[K_OUTCOME] = ("error", str(exc))
        return
    da.clear_caches()
    state[K_OUTCOME] = ("success", f"Saved the price of {saved.model}.")


def _remove() -> None:
    da.call(delete_price, st.session_state.get("price_remove"))
    da.clear_caches()


def render(models_seen: list[str], read_only: bool) -> None:
    st.subheader("Model prices")
    current = prices_frame()
    if current.empty:
        st.text("No prices set: costs are not shown.")
    else:
        st.dataframe(current, hide_index=True, width="stretch")
    if read_only:
        return
    with st.form("price_form", clear_on_submit=False):
        choices = sorted(set(models_seen) | set(current["model"]))
        st.selectbox(
            "Model",
            [None, *choices],
            format_func=lambda m: "(type a name below)" if m is None else m,
            key="price_model_pick",
        )
        st.text_input("or a model name", key="price_model_typed", max_chars=200)
        left, middle, right = st.columns(3)
        left.text_input("Input, per million tokens", key="price_in")
        middle.text_input("Output, per million tokens", key="price_out")
        right.text_input("Currency", value="USD", key="price_currency", max_chars=8)
        st.form_submit_button("Save price", on_click=_save)
    kind, message = st.session_state.pop(K_OUTCOME, (None, ""))
    if kind == "error":
        st.error(md_escape(message))  # quotes what was typed
    elif kind == "success":
        st.success(md_escape(message), icon=":material/check:")
    if not current.empty:
        st.selectbox("Remove the price of", list(current["model"]), key="price_remove")
        st.button("Remove price", key="price_remove_go", on_click=_remove)
