"""CSV export: parsed back with pandas it equals the inserted rows; formula cells are
neutralised; JSON cells parse; times are UTC ISO-8601; chunking changes nothing."""

from __future__ import annotations

import io
import json
from datetime import datetime, timedelta, timezone

import pandas as pd
import pytest
from runfactory import World, at

from data.errors import InvalidQuery
from data.export import EXPORT_COLUMNS, iter_csv
from data.filters import FlowRunFilter

FORMULAS = ("=1+1", "+x", "-x", "@x", "\tx", "\rx")


def seed_export(world: World) -> None:
    rows = []
    for i in range(23):
        rows.append(
            world.run(
                flow=i % 3,
                user=(None, 0, 1)[i % 3],
                session_id=FORMULAS[(i // 2) % 6] if i % 2 else f"s{i}",
                status=("success", "failure", "running", "weird")[i % 4],
                trigger_type="cron" if i % 5 == 0 else "api",
                # Some runs started in another time zone: exported as the UTC instant.
                started_at=at(hours=i).astimezone(timezone(timedelta(hours=(i % 3) - 1))),
                ended_at=at(hours=i, seconds=i) if i % 4 != 2 else None,
                duration_ms=i * 1000 if i % 4 != 2 else None,
                components_executed=i,
                error_type="ValueError" if i % 4 == 1 else None,
                error_message=FORMULAS[i % 6] + ', "quoted", and\nnew line' if i % 4 == 1 else None,
                inputs={"q": f"question {i}", "n": i, "formula": "=2+2"} if i % 2 else None,
                outputs=[i, "=x"] if i % 3 == 0 else "plain text" if i % 3 == 1 else None,
                metadata={"nested": {"k": i}} if i % 4 == 0 else None,
            )
        )
    world.add(rows)


def export_frame(world: World, **kwargs: object) -> tuple[str, pd.DataFrame]:
    text = "".join(iter_csv(world.engine, FlowRunFilter(), **kwargs))  # type: ignore[arg-type]
    frame = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
    return text, frame


def neutralised(value: str) -> str:
    return "'" + value if value.startswith(("=", "+", "-", "@", "\t", "\r")) else value


def test_export_round_trips_to_the_inserted_rows(world: World) -> None:
    seed_export(world)
    _, frame = export_frame(world)
    assert list(frame.columns) == list(EXPORT_COLUMNS)
    assert len(frame) == len(world.runs)
    by_id = {str(r["id"]): r for r in world.runs}
    # Newest first.
    started = [datetime.fromisoformat(v) for v in frame["started_at"]]
    assert started == sorted(started, reverse=True)
    for row in frame.to_dict("records"):
        source = by_id[row["id"]]
        assert row["flow_id"] == str(source["flow_id"])
        assert row["flow_name"] == world.flow_names[source["flow_id"]]
        assert row["user_id"] == ("" if source["user_id"] is None else str(source["user_id"]))
        expected_user = world.usernames.get(source["user_id"], "")
        assert row["username"] == expected_user
        assert row["session_id"] == neutralised(source["session_id"])
        assert row["status"] == source["status"]
        assert row["trigger_type"] == source["trigger_type"]
        for column in ("started_at", "ended_at"):
            if source[column] is None:
                assert row[column] == ""
                continue
            parsed = datetime.fromisoformat(row[column])
            assert parsed == source[column]
            assert row[column].endswith("+00:00")  # UTC ISO-8601
        duration = source["duration_ms"]
        assert row["duration_ms"] == ("" if duration is None else str(duration))
        assert row["components_executed"] == str(source["components_executed"])
        assert row["error_type"] == (source["error_type"] or "")
        message = source["error_message"]
        assert row["error_message"] == ("" if message is None else neutralised(message))
        for column in ("inputs", "outputs", "metadata"):
            expected = source[column]
            assert (json.loads(row[column]) if row[column] else None) == expected, column


def test_formula_cells_are_neutralised(world: World) -> None:
    seed_export(world)
    text, frame = export_frame(world, columns=["session_id", "error_message"])
    cells = [c for c in pd.concat([frame["session_id"], frame["error_message"]]) if c]
    assert {c[:1] for c in cells} <= {"'", "s"}
    for formula in FORMULAS:
        assert f"'{formula}" in set(frame["session_id"])
    # No raw cell in the file starts with a formula character.
    for line in text.splitlines():
        for cell in line.split(","):
            assert not cell.startswith(("=", "+", "-", "@"))


def test_chunking_gives_the_same_file(world: World) -> None:
    seed_export(world)
    one = "".join(iter_csv(world.engine, FlowRunFilter(), chunk_size=10_000))
    for size in (1, 4, 23):
        assert "".join(iter_csv(world.engine, FlowRunFilter(), chunk_size=size)) == one


def test_export_honours_the_filter_and_column_choice(world: World) -> None:
    seed_export(world)
    flt = FlowRunFilter.build(statuses=["failure"], flow_ids=[world.flows[1]])
    text = "".join(iter_csv(world.engine, flt, columns=["id", "status"]))
    frame = pd.read_csv(io.StringIO(text), dtype=str)
    expected = world.ids(lambda r: r["status"] == "failure" and r["flow_id"] == world.flows[1])
    assert list(frame.columns) == ["id", "status"]
    assert set(frame["id"]) == {str(i) for i in expected}
    assert set(frame["status"]) == {"failure"}


def test_empty_export_is_just_the_header(world: World) -> None:
    assert "".join(iter_csv(world.engine, FlowRunFilter(), columns=["id"])) == "id\r\n"


@pytest.mark.parametrize(("columns", "message"), [(["id", "password"], "password"), ([], "least")])
def test_bad_columns_are_refused(world: World, columns: list[str], message: str) -> None:
    with pytest.raises(InvalidQuery, match=message):
        next(iter_csv(world.engine, FlowRunFilter(), columns=columns))
