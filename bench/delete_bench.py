"""Retention delete of 2/3 of the runs while readers and a writer run (bench/scenarios.py's
``retention`` scenario: ``data.deletion.delete_where`` in batches), with the rollup's
triggers and without them, each on a throw-away copy of bench/run.py's cached dataset.

    python -m bench.delete_bench --backend sqlite --runs 1000000

Appends a table to bench/results/delete.md: rows/s and the readers' and writer's worst
wait, for ours with and without triggers and for the original's one-DELETE-per-run
(stopped after ``--budget`` seconds).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from bench import export_bench, run
from data.db import build_engine
from data.rollup.maintain import uninstall

VARIANTS = {
    "ours, with rollup triggers": ("ours", True),
    "ours, triggers dropped": ("ours", False),
    "one DELETE per run (original)": ("one_by_one", True),
}


def measure(
    backend: str, url: str, admin_url: str, approach: str, triggers: bool, budget: float
) -> dict[str, Any]:
    target = run.scratch_copy(backend, url, admin_url)
    try:
        if not triggers:
            engine = build_engine(target)
            with engine.begin() as conn:
                uninstall(conn)
            engine.dispose()
        params = {"approach": approach, "budget_s": budget}
        return run.run_child("retention", target, params, in_process=False)
    finally:
        run.drop_scratch(backend, target, admin_url)


def render(backend: str, runs: int, results: dict[str, dict[str, Any]]) -> str:
    load = Path("/proc/loadavg").read_text().split()[0]
    lines = [
        f"\n### {backend}, {runs:,} runs (load average {load} on 2 cores)\n",
        "| variant | rows deleted | rows/s | reader worst wait s | writer worst wait s "
        "| reads / writes | failures |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, r in results.items():
        lines.append(
            f"| {name} | {r['rows']:,} of {r['matching']:,} | {r['rows_per_s']:,.0f} "
            f"| {r['reader_worst_s']:.2f} | {r['writer_worst_s']:.2f} "
            f"| {r['reads']} / {r['writes']} | {'; '.join(r['failures']) or 'none'} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--backend", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--runs", type=int, default=1_000_000)
    parser.add_argument("--budget", type=float, default=20.0, help="one-by-one delete, s")
    parser.add_argument("--cache", type=Path, default=run.ROOT / "var" / "bench")
    parser.add_argument("--out", type=Path, default=run.ROOT / "bench" / "results" / "delete.md")
    parser.add_argument("--pg-admin-url", default=export_bench.PG_ADMIN)
    args = parser.parse_args()
    url, _ = run.dataset(args.backend, args.runs, args.cache, args.pg_admin_url)
    results = {}
    for name, (approach, triggers) in VARIANTS.items():
        results[name] = measure(
            args.backend, url, args.pg_admin_url, approach, triggers, args.budget
        )
        print(name, results[name], flush=True)
    text = render(args.backend, args.runs, results)
    print(text)
    with args.out.open("a") as out:
        out.write(text)


if __name__ == "__main__":
    main()
