"""``flowruns doctor``: name every stored value readers cannot read (data.doctor)."""

from __future__ import annotations

import argparse

from sqlalchemy import Engine

from data.doctor import find_bad_values

# Like `rollup check`: something to fix was found.
EXIT_FOUND = 5


def doctor(args: argparse.Namespace, engine: Engine) -> int:
    found = find_bad_values(engine)
    for bad in found:
        print(bad)
    if not found:
        print("no unreadable stored values")
        return 0
    rows = len({(b.table, b.row) for b in found})
    print(
        f"{len(found):,} unreadable stored value(s) in {rows:,} row(s): reads show them "
        "flagged; fix them at the source (table, id and column above)"
    )
    return EXIT_FOUND
