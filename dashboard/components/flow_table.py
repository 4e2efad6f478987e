"""The Flows page's table: one row per flow, built from the data layer's breakdown.

A pure function (frame in, frame out), so its columns are tested against the breakdown.
"""

from __future__ import annotations

import pandas as pd

from dashboard.formatting import local_time


def flag_text(row: pd.Series) -> str:
    flags = ["p95 regression"] * bool(row["p95_regression"])
    return ", ".join(flags + ["success drop"] * bool(row["success_drop"]))


def flows_view(
    table: pd.DataFrame, labels: dict[str, str], lines: list[list[int]], tz: str, unit: str
) -> pd.DataFrame:
    """The shown table. ``other`` (runs in a status no engine of ours writes, e.g. ``weird``)
    is a column only when some flow has such runs, so the counts add up to ``runs``."""
    flow_ids = table["flow_id"].astype(str)
    columns = {
        "flow": pd.Series(
            [labels.get(f, name) for f, name in zip(flow_ids, table["flow_name"], strict=True)],
            index=table.index,
        ),
        "flags": table.apply(flag_text, axis=1),
        "runs": table["runs"],
        "success rate": table["success_rate"] * 100,
        "success change (pp)": table["success_rate_change"] * 100,
        "failures": table["failure"],
    }
    if "other" in table and int(table["other"].sum()) > 0:
        columns["other status"] = table["other"]
    # Seconds as numbers, not "2.4 s" strings, so the columns sort by value.
    columns |= {
        "p50 (s)": table["p50_ms"] / 1000,
        "p95 (s)": table["p95_ms"] / 1000,
        "p95 change (%)": table["p95_change"] * 100,
        f"last run ({tz})": table["last_run_at"].map(lambda t: local_time(t, tz)),
        f"last failure ({tz})": table["last_failure_at"].map(lambda t: local_time(t, tz)),
        f"runs per finished {unit}": pd.Series(lines, index=table.index, dtype=object),
    }
    return pd.DataFrame(columns)
