"""bench/RESULTS.md and its chart (a hand-made SVG: no plotting library is pinned and
kaleido cannot run offline) from the results ``bench/run.py`` stores."""

from __future__ import annotations

import math
from collections import defaultdict
from datetime import UTC, datetime
from html import escape
from pathlib import Path
from typing import Any

APPROACHES = {
    "ours": "ours",
    "exact": "ours on raw rows (no rollup)",
    "pandas": "(a) load-all into pandas",
    "orm": "(b) original: ORM rows in Python",
    "offset": "(b) original: OFFSET paging",
    "one_by_one": "(b) original: one DELETE per run",
}
COLOURS = {"ours": "#2a9d8f", "exact": "#8ab17d", "pandas": "#e76f51", "orm": "#f4a261"}
COLOURS |= {"offset": "#f4a261", "one_by_one": "#f4a261"}
Row = dict[str, Any]


def ms(seconds: float) -> str:
    return f"{seconds * 1000:,.1f}" if seconds < 10 else f"{seconds * 1000:,.0f}"


def find(rows: list[Row], scenario: str, variant: str, approach: str = "ours") -> Row | None:
    for row in rows:
        same = (row["scenario"], row["approach"]) == (scenario, approach)
        if same and variant in (row["variant"], "*"):
            return row
    return None


def cell(row: Row | None) -> str:
    if row is None:
        return "-"
    if row["n"] == 1:
        return f"{ms(row['median_s'])} ({row['peak_mb']:,.0f} MB)"
    spread = f"{ms(row['min_s'])}-{ms(row['max_s'])}"
    return f"{ms(row['median_s'])} [{spread}] ({row['peak_mb']:,.0f} MB)"


def rate(row: Row | None) -> str:
    """Rows/s of wall time and, where the child measured its CPU, rows per CPU-second of
    the process (SQLite's work included: it runs inside it), which a loaded machine
    distorts far less than the wall."""
    if row is None:
        return "-"
    shown = f"{row['rows_per_s']:,.0f} rows/s"
    rows = row.get("rows", row.get("stored"))
    if row.get("cpu_s") and rows:
        shown += f" ({rows / row['cpu_s']:,.0f}/CPU-s)"
    return shown


def dataset_table(key: str, data: dict[str, Any]) -> list[str]:
    rows: list[Row] = data["rows"]
    built = data.get("built_rows_per_s")
    floor = data.get("round_trip_ms")
    lines = [
        f"### {key}: {data['runs']:,} runs",
        "",
        f"Commit {data.get('commit', '?')}, load average {data.get('load_average', '?')}"
        + (f"; `SELECT 1` {floor[0]:.1f} / {floor[1]:.1f} ms before / after" if floor else "")
        + (f"; dataset built now at {built:,.0f} rows/s." if built else "; cached dataset."),
        "",
        "Median ms [min-max] (peak RSS of the scenario's process); the ratios are the"
        " baselines' medians over ours.",
        "",
        "| scenario | ours | ours on raw rows | (a) pandas load-all | (b) original"
        " | baseline / ours |",
        "|---|---|---|---|---|---|",
    ]
    groups: dict[tuple[str, str], dict[str, Row]] = defaultdict(dict)
    for row in rows:
        groups[row["scenario"], row["variant"]][row["approach"]] = row
    for (scenario, variant), by in groups.items():
        ours = by.get("ours")
        original = by.get("orm") or by.get("offset") or by.get("one_by_one")
        ratios = [
            f"{name} {other['median_s'] / ours['median_s']:,.0f}x"
            for name, other in (("(a)", by.get("pandas")), ("(b)", original))
            if ours and other
        ]
        ratio = ", ".join(ratios) or "-"
        if scenario in ("export", "bulk", "retention"):
            ratio = f"{rate(ours)} vs {rate(original)}"
        label = f"{scenario}: {variant}"
        if scenario == "filtered_depths" and ours:
            label += f" (p95 {ms(ours['p95_s'])} ms over {ours['deepest_page']:,} pages)"
        for name in ("ours", "exact"):
            if by.get(name, {}).get("parts_ms"):
                parts = " / ".join(f"{k} {v:,.0f}" for k, v in by[name]["parts_ms"].items())
                label += f"<br>{name}: {parts} ms"
        cells = [cell(ours), cell(by.get("exact")), cell(by.get("pandas")), cell(original)]
        lines.append(f"| {label} | {' | '.join(cells)} | {ratio} |")
    delete = find(rows, "retention", "*")
    slow = find(rows, "retention", "*", "one_by_one")
    for name, row in (("batched (ours)", delete), ("one by one (original)", slow)):
        if row:
            lines.append(
                f"\nRetention {name}: {row['rows']:,} of {row['matching']:,} rows at"
                f" {row['rows_per_s']:,.0f} rows/s; worst reader wait"
                f" {ms(row['reader_worst_s'])} ms ({row['reads']} reads), worst writer wait"
                f" {ms(row['writer_worst_s'])} ms ({row['writes']} writes)"
                + (f"; failures: {row['failures']}" if row["failures"] else "")
                + "."
            )
    return [*lines, ""]


GOALS: list[tuple[str, str, float, bool]] = [
    # (label, how to read it, target, lower is better)
    ("90-day overview data, 1M runs", "overview/90 d", 0.150, True),
    ("7-day overview data, 1M runs", "overview/7 d", 0.050, True),
    ("90-day overview data, 10M runs", "overview/90 d@10m", 0.300, True),
    ("newest 50 with a status/flow filter, p95 any depth", "depth", 0.005, True),
    ("first page including the total", "paging/first page + total", 0.010, True),
    ("CSV export", "export", 100_000, False),
    ("retention delete (SQLite ≥ 40k, PostgreSQL ≥ 150k)", "retention", 0, False),
    ("worst reader/writer wait during the delete", "wait", 1.0, True),
    ("bulk load (SQLite ≥ 50k, PostgreSQL ≥ 100k)", "bulk", 0, False),
]


def goal_in(rows: list[Row], how: str, approach: str) -> float | None:
    """The figure a goal is judged by, for ``approach`` in one dataset's rows."""
    if how == "depth":
        found = [r for r in rows if (r["scenario"], r["approach"]) == ("filtered_depths", approach)]
        return max(r["p95_s"] for r in found) if found else None
    if how == "wait":
        row = find(rows, "retention", "*", approach)
        return max(row["reader_worst_s"], row["writer_worst_s"]) if row else None
    if how in ("export", "retention", "bulk"):
        row = find(rows, how, "*", approach)
        return row["rows_per_s"] if row else None
    scenario, variant = how.split("@")[0].split("/")
    row = find(rows, scenario, variant, approach)
    return row["median_s"] if row else None


ORIGINAL = {"depth": "offset", "retention": "one_by_one", "wait": "one_by_one"}
SHORT = {"orm": "original", "offset": "OFFSET", "one_by_one": "one by one", "pandas": "pandas"}


def goal_value(stored: dict[str, Any], backend: str, how: str) -> tuple[float, str] | None:
    """(ours, note) from the goal's size, else from the largest smaller one measured;
    the note names that size and the original approach's figure from the same run."""
    sizes = ["10m"] if how.endswith("@10m") else ["1m", "100k"]
    for size in sizes:
        rows = stored.get(f"{backend}/{size}", {}).get("rows", [])
        ours = goal_in(rows, how, "ours")
        if ours is None:
            continue
        note = "" if size == sizes[0] else f" (at {size})"
        for approach in (ORIGINAL.get(how, "orm"), "pandas"):
            other = goal_in(rows, how, approach)
            if other is not None and how != "wait":
                rate_goal = how in ("retention", "export", "bulk")
                shown = f"{other:,.0f} rows/s" if rate_goal else f"{ms(other)} ms"
                note += f"; {SHORT[approach]}: {shown}"
        return ours, note
    return None


def goal_table(stored: dict[str, Any]) -> list[str]:
    targets = {"retention": {"sqlite": 40_000, "postgres": 150_000}}
    targets["bulk"] = {"sqlite": 50_000, "postgres": 100_000}
    lines = ["| goal | target | SQLite | PostgreSQL |", "|---|---|---|---|"]
    for label, how, target, lower in GOALS:
        cells = []
        for backend in ("sqlite", "postgres"):
            value = goal_value(stored, backend, how)
            goal = targets.get(how, {}).get(backend, target)
            if value is None:
                cells.append("not measured")
                continue
            number, note = value
            met = number <= goal if lower else number >= goal
            shown = f"{ms(number)} ms" if lower else f"{number:,.0f} rows/s"
            cells.append(f"{shown} {'✅' if met else '❌'}{note}")
        floor = "≥ 100k rows/s" if target else "see goal"
        shown_target = f"≤ {ms(target)} ms" if lower else floor
        lines.append(f"| {label} | {shown_target} | {' | '.join(cells)} |")
    return lines


def chart(stored: dict[str, Any]) -> str:
    """Horizontal bars, log scale: every scenario's median per approach, per dataset."""
    bars: list[tuple[str, str, float]] = []
    for key, data in stored.items():
        for row in data["rows"]:
            if row["scenario"] not in ("export", "bulk"):
                label = f"{key} {row['scenario']}: {row['variant']}"
                bars.append((label, row["approach"], row["median_s"]))
    low, high = 1e-4, 1e3
    width, left, bar_h = 980, 360, 9
    scale = (width - left - 20) / (math.log10(high) - math.log10(low))
    height = 40 + len(bars) * (bar_h + 2) + 40
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}"'
        ' font-family="sans-serif" font-size="9">',
        '<text x="10" y="16" font-size="13">Median seconds per scenario (log scale);'
        " teal = ours, green = ours on raw rows, red = pandas, orange = original</text>",
    ]
    for exponent in range(-4, 4):
        x = left + (exponent - math.log10(low)) * scale
        out.append(f'<line x1="{x:.0f}" y1="26" x2="{x:.0f}" y2="{height - 30}" stroke="#ddd"/>')
        tick = f'<text x="{x:.0f}" y="{height - 16}" text-anchor="middle">'
        out.append(f"{tick}1e{exponent} s</text>")
    y, previous = 30, ""
    for label, approach, seconds in bars:
        if label != previous:
            out.append(f'<text x="{left - 6}" y="{y + bar_h - 1}" text-anchor="end">')
            out.append(f"{escape(label)}</text>")
            previous = label
        size = (math.log10(max(seconds, low)) - math.log10(low)) * scale
        colour = COLOURS[approach]
        box = f'x="{left}" y="{y}" width="{size:.1f}" height="{bar_h}"'
        out.append(f'<rect {box} fill="{colour}"/>')
        y += bar_h + 2
    return "\n".join([*out, "</svg>", ""])


def write_report(stored: dict[str, Any], path: Path) -> None:
    svg = path.with_name("results.svg")
    svg.write_text(chart(stored), encoding="utf-8")
    lines = [
        "# Benchmark results",
        "",
        "Written by `python -m bench.run` (`make bench`) on"
        f" {datetime.now(UTC):%Y-%m-%d %H:%M} UTC: ours against the baselines in the same run"
        " on the same cached demo datasets (runs over 90 days), each scenario in its own"
        " process. 2 shared cores; each dataset's heading gives the load average during its run.",
        "",
        "## Headline (for the README)",
        "",
        *goal_table(stored),
        "",
        f"![median seconds per scenario]({svg.name})",
        "",
        "Approaches: " + "; ".join(f"{k} = {v}" for k, v in APPROACHES.items()) + ".",
        "",
    ]
    for key, data in sorted(stored.items(), key=lambda item: (item[1]["runs"], item[0])):
        lines += dataset_table(key, data)
    notes = path.parent / "results" / "run-notes.md"  # the hand-written reading, kept
    if notes.exists():
        lines += ["", notes.read_text(encoding="utf-8")]
    path.write_text("\n".join(lines), encoding="utf-8")
