"""Text that goes into Plotly labels (legend, hover, ticks).

Plotly renders a subset of HTML in labels (links, bold, line breaks): text from the
database is escaped so it is shown as typed.
"""

from __future__ import annotations

import html

import pandas as pd


def plain(text: object) -> str:
    return html.escape(str(text), quote=False)


def rate_text(rate: float | None) -> str:
    return "no finished runs" if rate is None or pd.isna(rate) else f"{rate:.1%}"
