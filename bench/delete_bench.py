"""Retention delete of 2/3 of the runs while readers and a writer run (bench/scenarios.py's
``retention`` scenario: ``data.deletion.delete_where`` in batches), each variant on a
throw-away copy of bench/run.py's cached dataset, migrated on the copy only (the cache
is never changed).

    python -m bench.delete_bench --backend sqlite --runs 1000000

Appends a table to bench/results/delete.md: rows/s and the readers' and writer's worst
wait of each variant, all measured in the same run:

- ``0005``: today's schema, each batch subtracted from the rollup set-based by the delete
  itself (the delete triggers paused for its transaction);
- ``0004``: the schema before, the rollup kept by the delete triggers (SQLite: per row),
  or with ``--before REV`` the code of commit REV migrating and deleting its own copy;
- ``no rollup``: 0004 with the rollup's triggers dropped (the floor: the delete alone);
- the original's one DELETE per run, on today's schema, stopped after ``--budget`` s.

``--batch-sizes 2000,5000,20000`` repeats the ``0005`` variant per batch size.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from alembic.script import ScriptDirectory
from sqlalchemy.engine import make_url

from bench import export_bench, run
from data import migrate
from data.db import build_engine
from data.rollup.maintain import uninstall


def cached_url(backend: str, runs: int, cache: Path, admin_url: str) -> str:
    """The cached dataset's URL, without bench.run.dataset's upgrade of the cache."""
    name = f"flowruns_bench_{runs}"
    if backend == "sqlite":
        path = cache / f"{name}.db"
        if not path.exists():
            raise SystemExit(f"{path} missing: build it with python -m bench.run first")
        return f"sqlite:///{path}"
    return make_url(admin_url).set(database=name).render_as_string(hide_password=False)


def measure(
    backend: str,
    url: str,
    admin_url: str,
    variant: tuple[str, str, bool],
    budget: float,
    tree: Path | None = None,
) -> dict[str, Any]:
    """One variant on its own scratch copy; with ``tree`` (another commit's code) the copy
    is migrated and deleted by that code."""
    revision, approach, triggers = variant
    target = run.scratch_copy(backend, url, admin_url)
    try:
        if tree is not None:
            return in_tree(tree, target, revision, {"approach": approach, "budget_s": budget})
        migrate.upgrade(target)  # the cache may be past ``revision`` (bench.run migrates it)
        if revision != "head":
            migrate.downgrade(target, revision)
        engine = build_engine(target)
        with engine.begin() as conn:
            if not triggers:
                uninstall(conn)
        engine.dispose()
        run.analyze(target)
        params = {"approach": approach, "budget_s": budget}
        return run.run_child("retention", target, params, in_process=False)
    finally:
        run.drop_scratch(backend, target, admin_url)


def in_tree(tree: Path, target: str, revision: str, params: dict[str, Any]) -> dict[str, Any]:
    # The cache may already be at a revision that commit does not know (bench.run migrates
    # it): today's code takes the copy back to that commit's head first.
    migrate.upgrade(target)
    migrate.downgrade(
        target, ScriptDirectory(str(tree / "migrations")).get_current_head() or "base"
    )
    env = dict(os.environ, PYTHONPATH=str(tree))
    migrate_code = f"from data import migrate; migrate.upgrade({target!r}, {revision!r})"
    # Its own triggers too: today's downgrade installed today's definitions.
    triggers_code = (
        "from data.db import build_engine; from data.rollup.maintain import install; "
        f"engine = build_engine({target!r})\nwith engine.begin() as conn: install(conn)"
    )
    analyze_code = f"from bench.run import analyze; analyze({target!r})"
    for code in (migrate_code, triggers_code, analyze_code):
        subprocess.run([sys.executable, "-c", code], cwd=tree, env=env, check=True)
    command = [sys.executable, "-m", "bench.scenarios", "retention", target, json.dumps(params)]
    out = subprocess.run(command, cwd=tree, env=env, check=True, capture_output=True, text=True)
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def extract(revision: str, into: Path) -> Path:
    """``data``, ``bench`` and the migrations of ``revision``, extracted under ``into``."""
    paths = ["data", "bench", "migrations", "alembic.ini"]
    archive = subprocess.run(
        ["git", "archive", revision, *paths], cwd=run.ROOT, check=True, capture_output=True
    ).stdout
    into.mkdir(parents=True, exist_ok=True)
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into


def render(title: str, results: dict[str, dict[str, Any]]) -> str:
    lines = [
        f"\n### {title}\n",
        "| variant | batch | rows deleted | rows/s | vs one-by-one | reader worst wait s "
        "| writer worst wait s | reads / writes | load avg (1 min) | failures |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    baseline = next((r["rows_per_s"] for name, r in results.items() if "one DELETE" in name), None)
    for name, r in results.items():
        ratio = f"{r['rows_per_s'] / baseline:.1f}x" if baseline else "-"
        lines.append(
            f"| {name} | {r['batch']} | {r['rows']:,} of {r['matching']:,} "
            f"| {r['rows_per_s']:,.0f} | {ratio} | {r['reader_worst_s']:.2f} "
            f"| {r['writer_worst_s']:.2f} | {r['reads']} / {r['writes']} | {r['load']} "
            f"| {'; '.join(r['failures']) or 'none'} |"
        )
    return "\n".join(lines) + "\n"


Variant = tuple[
    str, int, tuple[str, str, bool], bool
]  # name, batch, (rev, approach, rollup), before


def variants(batch_sizes: list[int], before: str | None) -> list[Variant]:
    chosen: list[Variant] = [
        ("0005: set-based rollup in the delete", size, ("head", "ours", True), False)
        for size in batch_sizes
    ]
    first = batch_sizes[0]
    old = (
        (f"before: commit {before}", first, ("head", "ours", True), True)
        if before
        else ("0004: rollup kept by the delete triggers", first, ("0004", "ours", True), False)
    )
    return [
        *chosen,
        old,
        ("rollup triggers dropped (delete alone)", first, ("0004", "ours", False), False),
        ("one DELETE per run (original), today's schema", 1, ("head", "one_by_one", True), False),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--backend", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--runs", type=int, default=1_000_000)
    parser.add_argument("--budget", type=float, default=20.0, help="one-by-one delete, s")
    parser.add_argument("--batch-sizes", default="5000", help="comma-separated")
    parser.add_argument("--only-batches", action="store_true", help="only the 0005 variant")
    parser.add_argument("--before", help="also measure the code of this commit (git archive)")
    parser.add_argument("--cache", type=Path, default=run.ROOT / "var" / "bench")
    parser.add_argument("--out", type=Path, default=run.ROOT / "bench" / "results" / "delete.md")
    parser.add_argument("--pg-admin-url", default=export_bench.PG_ADMIN)
    args = parser.parse_args()
    url = cached_url(args.backend, args.runs, args.cache, args.pg_admin_url)
    sizes = [int(size) for size in args.batch_sizes.split(",")]
    results = {}
    tree = (
        extract(args.before, Path(tempfile.mkdtemp(prefix="delete_before_")))
        if args.before
        else None
    )
    for name, size, variant, old in variants(sizes, args.before):
        if args.only_batches and not name.startswith("0005"):
            continue
        os.environ["FLOWRUNS_DELETE_BATCH_SIZE"] = str(size)  # read by the child
        result = measure(
            args.backend, url, args.pg_admin_url, variant, args.budget, tree if old else None
        )
        result["batch"] = size
        result["load"] = Path("/proc/loadavg").read_text().split()[0]
        label = f"{name} ({size:,})" if len(sizes) > 1 and name.startswith("0005") else name
        results[label] = result
        print(label, result, flush=True)
    text = render(f"{args.backend}, {args.runs:,} runs (2 cores, shared)", results)
    print(text)
    with args.out.open("a") as out:
        out.write(text)


if __name__ == "__main__":
    main()
