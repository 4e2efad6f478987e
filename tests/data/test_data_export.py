"""CSV export: parsed back with pandas it equals the inserted rows; formula cells are
neutralised; JSON cells parse; times are UTC ISO-8601; chunking changes nothing."""

from __future__ import annotations

import csv
import io
import json
import uuid
from datetime import UTC, datetime, timedelta, timezone

import pandas as pd
import pytest
from runfactory import World, at, make_world
from sqlalchemy import Engine, insert, text

from data.db import build_engine, session_scope
from data.errors import InvalidQuery
from data.export import EXPORT_COLUMNS, PAYLOAD_FIELDS, iter_csv, pgcopy, validate_columns
from data.export import stream as export_stream
from data.filters import FlowRunFilter
from data.models import Flow, FlowRun, User

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


# ---- rendered by the database: equal to csv.writer, equal across backends ------------

HOSTILE_TEXTS = (
    "plain",
    "",
    "=1+1",
    "+x",
    "-x",
    "@x",
    "\tx",
    "\rx",
    'say "hi"',
    "a,b",
    "line\nbreak",
    "crlf\r\nend",
    "'quoted'",
    "ünïcödé ✓ 🚀",
    '=HYPERLINK("http://x","y"),z',
    " leading space",
    # COPY's own markers (end of data, NULL, escapes) are data here.
    "\\.",
    "\\N",
    "back\\slash\\\\n",
    "NULL",
    "tab\tinside\x01\x7f",
    "\u2028separator\u00a0nbsp \uff02wide\uff02",
)
HOSTILE_JSON: tuple[object, ...] = (
    None,
    {"q": 'he said "no", then\nleft', "n": -1.5},
    [1, "=x", None],
    "=bare string",
    -5,
    0,
    {},
    [],
    {"deep": {"er": ["\r\n", "ü"]}},
    {"huge": '"quoted",\r\n=line\\' * 20_000},  # ~400 KB of cell
)
FIXED_USER = uuid.UUID("00000000-0000-4000-8000-00000000000a")
FIXED_FLOW = uuid.UUID("00000000-0000-4000-8000-0000000000f1")


def seed_fixed(engine: Engine) -> list[dict[str, object]]:
    """The same users, flow and runs (fixed ids and times) in any database."""
    with session_scope(engine) as session:
        session.add(User(id=FIXED_USER, username='@admin,"x"'))
        session.flush()
        session.add(Flow(id=FIXED_FLOW, name='=Gamma, "the" flow', user_id=FIXED_USER))
    runs: list[dict[str, object]] = []
    base = datetime(2024, 3, 4, 5, 6, 7, tzinfo=UTC)
    for i, value in enumerate(HOSTILE_TEXTS * 2):
        started = base + timedelta(minutes=i // 6, microseconds=(i // 2 % 3) * 123_400)
        runs.append(
            {
                "id": uuid.UUID(int=(i * 7919) << 64 | i),
                "flow_id": FIXED_FLOW,
                "user_id": FIXED_USER if i % 2 else None,
                "session_id": value if i % 3 else None,
                "status": HOSTILE_TEXTS[(i + 3) % len(HOSTILE_TEXTS)],
                "trigger_type": "api",
                # Equal start times on purpose: the id breaks the tie, also across chunks.
                "started_at": started,
                "ended_at": started + timedelta(seconds=i) if i % 4 else None,
                "duration_ms": (None, 0, 2**31 - 1, -1234)[i % 4],
                "components_executed": i,
                "total_tokens": (None, 0, 1234, 2**40)[(i + 1) % 4],
                "error_type": value if i % 2 else None,
                "error_message": value + " and more" if i % 5 else None,
                "inputs": HOSTILE_JSON[i % len(HOSTILE_JSON)],
                "outputs": HOSTILE_JSON[(i + 4) % len(HOSTILE_JSON)],
                "metadata_": HOSTILE_JSON[(i + 7) % len(HOSTILE_JSON)],
            }
        )
    with session_scope(engine) as session:
        session.execute(insert(FlowRun), runs)
    return runs


def expected_csv(runs: list[dict[str, object]], columns: tuple[str, ...]) -> str:
    """csv.writer over cells computed here, independently of data.export."""

    def guard(text: str) -> str:
        return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text

    def render(run: dict[str, object], name: str) -> str:
        value = {
            "flow_name": '=Gamma, "the" flow',
            "username": '@admin,"x"' if run["user_id"] else None,
            "metadata": run["metadata_"],
        }.get(name, run.get(name))
        if value is None:
            return ""
        if name in PAYLOAD_FIELDS:
            return guard(json.dumps(value))
        if isinstance(value, datetime):
            return value.astimezone(UTC).isoformat()
        if isinstance(value, uuid.UUID | int):
            return str(value)
        return guard(str(value))

    ordered = sorted(runs, key=lambda r: (r["started_at"], str(r["id"])), reverse=True)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(columns)
    writer.writerows([render(run, name) for name in columns] for run in ordered)
    return buffer.getvalue()


@pytest.mark.parametrize("prerendered", [1000, 0], ids=["flows-prerendered", "per-run"])
def test_export_equals_csv_writer_over_hostile_values(
    engine: Engine, monkeypatch: pytest.MonkeyPatch, prerendered: int
) -> None:
    """SQLite renders flows and users once per chunk, or per run past MAX_PRERENDERED."""
    monkeypatch.setattr(export_stream, "MAX_PRERENDERED", prerendered)
    runs = seed_fixed(engine)
    expected = expected_csv(runs, EXPORT_COLUMNS)
    for chunk_size in (50_000, 7, 1):
        got = "".join(iter_csv(engine, FlowRunFilter(), chunk_size=chunk_size))
        assert got == expected
    frame = pd.read_csv(io.StringIO(expected), dtype=str, keep_default_na=False)
    assert len(frame) == len(runs)  # the expected file itself parses back to every run


@pytest.mark.parametrize("columns", [("session_id",), ("inputs",), ("id", "error_message")])
def test_export_of_chosen_columns_equals_csv_writer(
    engine: Engine, columns: tuple[str, ...]
) -> None:
    """One column: csv.writer writes an empty cell as "" (a blank line would be no row)."""
    runs = seed_fixed(engine)
    assert "".join(iter_csv(engine, FlowRunFilter(), columns=columns)) == expected_csv(
        runs, columns
    )


@pytest.mark.postgres
def test_sqlite_and_postgresql_give_identical_files(sqlite_url: str, pg_url: str) -> None:
    files = []
    for url in (sqlite_url, pg_url):
        engine = build_engine(url)
        seed_fixed(engine)
        files.append("".join(iter_csv(engine, FlowRunFilter(), chunk_size=5)))
        engine.dispose()
    assert files[0] == files[1]
    assert files[0].count("\r\n") > len(HOSTILE_TEXTS) * 2


def test_duplicate_columns_are_exported_once(world: World) -> None:
    seed_export(world)
    text = "".join(iter_csv(world.engine, FlowRunFilter(), columns=["id", "status", "id"] * 200))
    assert text.splitlines()[0] == "id,status"
    assert validate_columns(["status", "id", "status"]) == ("status", "id")


# ---- SQLite rows written by other tools: rendered like the ORM read them, never failing ---

LEGACY_ROWS = (
    # (stored id, started_at, ended_at, duration_ms, session_id, inputs) -> expected cells;
    # session_id has TEXT affinity: SQLite stores -5 as the text "-5", a formula start.
    ("ABCDEF01-2345-4678-9ABC-DEF012345678", "2024-01-02 03:04:05", "garbage", "12abc", 5, "-5"),
    ("0" * 31 + ",", "2024-01-02T05:04:05+02:00", "=cmd()", "-1x", -5, "null"),
    ("f" * 32, "2024-01-01 00:00:00.500000", None, 1.5, "=x", '"=y"'),
)
LEGACY_EXPECTED = (
    (
        "abcdef01-2345-4678-9abc-def012345678",
        "2024-01-02T03:04:05+00:00",
        "garbage",
        "12abc",
        "5",
        "'-5",
    ),
    ("0" * 31 + ",", "2024-01-02T03:04:05+00:00", "'=cmd()", "'-1x", "'-5", ""),
    (
        "ffffffff-ffff-ffff-ffff-ffffffffffff",
        "2024-01-01T00:00:00.500000+00:00",
        "",
        "1.5",
        "'=x",
        '"=y"',
    ),
)


def test_sqlite_values_in_other_forms_are_rendered_or_degraded(sqlite_url: str) -> None:
    engine = build_engine(sqlite_url)
    world = make_world(engine)
    with engine.begin() as conn:
        for run_id, started, ended, duration, session, inputs in LEGACY_ROWS:
            conn.execute(
                text(
                    "INSERT INTO flow_run (id, flow_id, status, started_at, ended_at, duration_ms,"
                    " session_id, inputs, trigger_type, components_executed)"
                    " VALUES (:id, :flow, 'success', :started, :ended, :duration, :session,"
                    " :inputs, 'api', 0)"
                ),
                {
                    "id": run_id,
                    "flow": world.flows[0].hex,
                    "started": started,
                    "ended": ended,
                    "duration": duration,
                    "session": session,
                    "inputs": inputs,
                },
            )
        # Text that is not valid UTF-8 (another engine wrote bytes).
        conn.execute(text("UPDATE flow_run SET error_message = CAST(X'FF2C41' AS TEXT)"))
    columns = [
        "id",
        "started_at",
        "ended_at",
        "duration_ms",
        "session_id",
        "inputs",
        "error_message",
    ]
    exported = "".join(iter_csv(engine, FlowRunFilter(), columns=columns, chunk_size=1))
    frame = pd.read_csv(io.StringIO(exported), dtype=str, keep_default_na=False)
    got = {tuple(row[:6]) for row in frame.itertuples(index=False)}
    assert got == set(LEGACY_EXPECTED)
    assert set(frame["error_message"]) == {"\ufffd,A"}
    engine.dispose()


def test_chunks_stay_small_whatever_the_payload_size(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Memory is bounded by chunk text, not by rows: big payloads make more, smaller chunks."""
    monkeypatch.setattr(export_stream, "CHUNK_CHARS", 200_000)
    monkeypatch.setattr(export_stream, "BATCH_CHARS", 50_000)
    world = make_world(engine)
    payload = {"blob": "x" * 20_000}
    world.add(world.run(started_at=at(minutes=i), inputs=payload) for i in range(40))
    chunks = list(iter_csv(engine, FlowRunFilter(), columns=["id", "inputs"]))
    body = chunks[1:]
    assert sum(c.count("\r\n") for c in body) == 40
    assert len(body) >= 4
    # A chunk ends at the first batch that reaches the cap: cap + one batch at most.
    assert max(map(len, body)) <= 200_000 + 50_000 + 20_100
    frame = pd.read_csv(io.StringIO("".join(chunks)), dtype=str)
    assert {json.loads(v)["blob"] for v in frame["inputs"]} == {"x" * 20_000}


def test_a_chunk_outgrowing_its_cap_is_cut_and_resumed(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Rows sized from small ones, then big ones: the chunk is cut at its cap (on
    PostgreSQL the rest of the COPY is cancelled) and the next one resumes after the last
    row kept; no run is lost or repeated."""
    monkeypatch.setattr(export_stream, "CHUNK_CHARS", 60_000)
    monkeypatch.setattr(export_stream, "BATCH_CHARS", 10_000)
    monkeypatch.setattr(pgcopy, "BATCH_BYTES", 10_000)
    monkeypatch.setattr(export_stream, "MAX_BATCH_ROWS", 4)
    world = make_world(engine)
    big = {"blob": 'x"' * 5_000}
    runs = [world.run(started_at=at(minutes=i), inputs=big if i < 30 else None) for i in range(60)]
    world.add(runs)
    chunks = list(iter_csv(engine, FlowRunFilter(), columns=["id", "inputs"], chunk_size=500))
    row = 20_100  # a big run's line
    # PostgreSQL: cut after the batch (in bytes) that passed the cap. SQLite sizes its
    # fetch from the rows seen so far: cut after the batch, at most MAX_BATCH_ROWS rows.
    overshoot = 10_000 + row if engine.dialect.name == "postgresql" else 4 * row
    assert len(chunks) >= 5
    assert max(map(len, chunks)) <= 60_000 + overshoot
    frame = pd.read_csv(io.StringIO("".join(chunks)), dtype=str, keep_default_na=False)
    newest_first = sorted(runs, key=lambda r: r["started_at"], reverse=True)
    assert list(frame["id"]) == [str(r["id"]) for r in newest_first]
    assert list(frame["inputs"]) == [
        "" if r["inputs"] is None else json.dumps(big) for r in newest_first
    ]
