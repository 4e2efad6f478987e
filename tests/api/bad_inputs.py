"""The table of hostile requests: every API parameter and body field, with the precise
status each must answer and the name its ``detail`` must contain."""

from __future__ import annotations

import uuid
from typing import Any

from apiworld import API, World
from hostile import Case

FILTERED_GETS = ("/", "/stats", "/stats/timeseries", "/stats/flows", "/export.csv")
SURROGATE = "\udc00"
DEEP: Any = 0
for _ in range(70):
    DEEP = [DEEP]

# (parameter, value, status, needle): accepted by every filtered endpoint and bulk delete.
FILTER_CASES: list[tuple[str, Any, int, str]] = [
    ("flow_id", "not-a-uuid", 422, "flow_id"),
    ("flow_id", "123", 422, "flow_id"),
    ("flow_id", "' OR 1=1 --", 422, "flow_id"),
    ("flow_id", [str(uuid.UUID(int=i)) for i in range(201)], 422, "flow_id"),
    ("trigger_type", "t" * 101, 422, "trigger_type"),
    ("trigger_type", [f"t{i}" for i in range(51)], 422, "trigger_type"),
    ("session_id", "s" * 501, 422, "session_id"),
    ("session_id", "a\x00b", 422, "session_id"),
    ("started_after", "yesterday", 422, "started_after"),
    ("started_after", "-1", 422, "started_after"),
    ("started_after", "0", 422, "started_after"),
    ("started_after", "1700000000", 422, "started_after"),
    ("started_after", "1800-01-01T00:00:00", 422, "started_after"),
    ("started_after", "2300-01-01", 422, "started_after"),
    ("started_after", "2024-13-45", 422, "started_after"),
    ("started_after", "0001-01-01T00:00:00+14:00", 422, "started_after"),
    ("started_before", "tomorrow", 422, "started_before"),
    ("started_before", "-86400", 422, "started_before"),
    ("started_before", "9999-12-31T23:59:59-14:00", 422, "started_before"),
    ("q", "q" * 501, 422, "q"),
    ("q", "a\x00b", 422, "q: must not"),
    ("min_duration_ms", "-1", 422, "min_duration_ms"),
    ("min_duration_ms", "abc", 422, "min_duration_ms"),
    ("min_duration_ms", str(2**31), 422, "min_duration_ms"),
    ("min_duration_ms", "1.5", 422, "min_duration_ms"),
    ("max_duration_ms", "-5", 422, "max_duration_ms"),
    ("max_duration_ms", "1e3", 422, "max_duration_ms"),
    ("max_duration_ms", str(2**63), 422, "max_duration_ms"),
    ("error_type", "e" * 101, 422, "error_type"),
    ("flowid", "x", 400, "flowid"),
    ("limitt", "5", 400, "limitt"),
    ("password", "x", 400, "password"),
    ("user_id", str(uuid.uuid4()), 400, "user_id"),
    ("status[]", "success", 400, "status[]"),
]
RANGE_CASES: list[tuple[dict[str, str], int, str]] = [
    ({"started_after": "2026-01-02", "started_before": "2026-01-01"}, 422, "started_after"),
    ({"min_duration_ms": "10", "max_duration_ms": "5"}, 422, "min_duration_ms"),
]
LIST_CASES: list[tuple[str, Any, int, str]] = [
    ("limit", "0", 422, "limit"),
    ("limit", "501", 422, "limit"),
    ("limit", "-1", 422, "limit"),
    ("limit", "ten", 422, "limit"),
    ("offset", "-1", 422, "offset"),
    ("offset", str(2**31), 422, "offset"),
    ("offset", "x", 422, "offset"),
    ("order_by", "password", 422, "order_by"),
    ("order_by", "id; DROP TABLE flow_run", 422, "order_by"),
    ("order_dir", "sideways", 422, "order_dir"),
    ("include_payloads", "maybe", 422, "include_payloads"),
    ("include_total", "2", 422, "include_total"),
    ("format", "xml", 422, "format"),
    ("columns", "id,password", 400, "columns"),
    ("cursor", "c" * 10_001, 422, "cursor"),
    ("cursor", "garbage!", 400, "cursor"),
]
STATS_CASES: list[tuple[str, Any, int, str]] = [
    ("days", "0", 422, "days"),
    ("days", "3651", 422, "days"),
    ("days", "-7", 422, "days"),
    ("days", "week", 422, "days"),
]
TIMESERIES_CASES: list[tuple[str, Any, int, str]] = [
    ("bucket", "minute", 422, "bucket"),
    ("bucket", "", 422, "bucket"),
    ("tz", "Mars/Olympus_Mons", 422, "tz"),
    ("tz", "Z" * 65, 422, "tz"),
    ("tz", "../../etc/passwd", 422, "tz"),
]
EXPORT_CASES: list[tuple[str, Any, int, str]] = [
    ("columns", "password", 400, "columns"),
    ("columns", "id,,nope", 400, "columns"),
    ("columns", ",".join(["id"] * 600), 400, "columns"),
    ("columns", "c" * 2001, 422, "columns"),
]
DELETE_CASES: list[tuple[dict[str, str], int, str]] = [
    ({}, 400, "all=true"),
    ({"older_than_days": "-1"}, 422, "older_than_days"),
    ({"older_than_days": "36501"}, 422, "older_than_days"),
    ({"older_than_days": "x"}, 422, "older_than_days"),
    ({"older_than_days": "0"}, 400, "all=true"),
    ({"min_duration_ms": "0"}, 400, "all=true"),
    ({"started_after": "1900-01-01"}, 400, "all=true"),
    ({"started_before": "2199-01-01"}, 400, "all=true"),
    ({"all": "maybe"}, 422, "all"),
    ({"include_active": "x"}, 422, "include_active"),
    ({"dry_run": "perhaps"}, 422, "dry_run"),
    ({"status": "running"}, 400, "include_active"),
    ({"status": "pending", "older_than_days": "1"}, 400, "include_active"),
    ({"flowid": "x", "older_than_days": "0"}, 400, "flowid"),
    ({"older_than_days": "1", "started_after": "2199-12-31"}, 400, "older_than_days"),
]
# A single-valued parameter given twice: FastAPI keeps the last value, so each of these
# used to be taken (``dry_run=true&dry_run=false`` really deleted). Now a 400 naming it.
REPEATED_DELETES: list[list[tuple[str, str]]] = [
    [("session_id", "X"), ("dry_run", "true"), ("dry_run", "false")],
    [("all", "false"), ("all", "true")],
    [("all", "true"), ("all", "true"), ("dry_run", "true")],
    [("older_than_days", "30"), ("older_than_days", "0")],
    [("include_active", "false"), ("include_active", "true"), ("older_than_days", "1")],
    [("session_id", "a"), ("session_id", "b"), ("dry_run", "true")],
]
REPEATED_READS: list[tuple[str, list[tuple[str, str]]]] = [
    ("/", [("limit", "1"), ("limit", "500")]),
    ("/", [("order_dir", "asc"), ("order_dir", "desc")]),
    ("/", [("include_payloads", "false"), ("include_payloads", "true")]),
    ("/", [("started_after", "2026-01-01"), ("started_after", "2026-01-02")]),
    ("/", [("q", "x"), ("q", "y")]),
    ("/stats", [("days", "1"), ("days", "30")]),
    ("/stats/timeseries", [("bucket", "hour"), ("bucket", "day")]),
    ("/export.csv", [("columns", "id"), ("columns", "status")]),
]
AUDIT = "/api/v1/audit"
AUDIT_CASES: list[tuple[str, str, int]] = [
    ("limit", "0", 422),
    ("limit", "501", 422),
    ("offset", "-1", 422),
    ("offset", "x", 422),
    ("actor", "alice", 400),
    ("all", "true", 400),
]
RUN_PATHS: list[tuple[str, int, str]] = [
    ("not-a-uuid", 422, "run_id"),
    ("123", 422, "run_id"),
    ("%00", 422, "run_id"),
]
UNSTORABLE_VALUES: list[tuple[Any, str]] = [
    ({"a": SURROGATE}, "contains a lone surrogate"),
    ({SURROGATE: 1}, "key contains a lone surrogate"),
    ([1, {"b": ["x" + SURROGATE]}], "lone surrogate"),
    (DEEP, "nested deeper"),
]
RAW_UNSTORABLE: list[tuple[bytes, str]] = [
    (b"NaN", "NaN"),
    (b"Infinity", "Infinity"),
    (b"-Infinity", "-Infinity"),
    (b"[1e400]", "overflows"),
    (b'{"n": ' + b"9" * 4500 + b"}", "more than 4000 digits"),
]


def _filter_cases(world: World) -> list[Case]:
    cases = []
    for path in FILTERED_GETS:
        for name, value, code, needle in FILTER_CASES:
            cases.append(Case("GET", API + path, code, needle, params={name: value}))
        for params, code, needle in RANGE_CASES:
            cases.append(Case("GET", API + path, code, needle, params=params))
    for name, value, code, needle in FILTER_CASES:
        params = {name: value, "all": "true", "dry_run": "true"}
        cases.append(Case("DELETE", API + "/", code, needle, params=params))
    return cases


def _endpoint_cases() -> list[Case]:
    cases = [Case("GET", API + "/", c, n, params={p: v}) for p, v, c, n in LIST_CASES]
    for path in ("/stats", "/stats/timeseries", "/stats/flows"):
        cases += [Case("GET", API + path, c, n, params={p: v}) for p, v, c, n in STATS_CASES]
        both = {"days": "3", "started_after": "2026-01-01"}
        cases.append(Case("GET", API + path, 422, "days", params=both))
    cases += [
        Case("GET", API + "/stats/timeseries", c, n, params={p: v})
        for p, v, c, n in TIMESERIES_CASES
    ]
    cases += [Case("GET", API + "/export.csv", c, n, params={p: v}) for p, v, c, n in EXPORT_CASES]
    cases += [
        Case("GET", API + "/", c, n, params={"format": "csv", p: v}) for p, v, c, n in EXPORT_CASES
    ]
    for who in ("admin", "alice"):
        cases += [Case("DELETE", API + "/", c, n, params=p, who=who) for p, c, n in DELETE_CASES]
    for path in ("/healthz", "/readyz"):
        cases.append(Case("GET", path, 400, "verbose", params={"verbose": "1"}))
    for name, value, code in AUDIT_CASES:
        cases.append(Case("GET", AUDIT + "/", code, name, params={name: value}))
    cases.append(Case("GET", AUDIT + "/export.csv", 400, "limit", params={"limit": "5"}))
    cases.append(Case("GET", AUDIT + "/", 400, "limit", params=[("limit", "1"), ("limit", "2")]))
    for who in ("admin", "alice"):
        for pairs in REPEATED_DELETES:
            needle = next(n for n, _ in pairs if [m for m, _ in pairs].count(n) > 1)
            cases.append(Case("DELETE", API + "/", 400, needle, params=pairs, who=who))
    for path, pairs in REPEATED_READS:
        cases.append(Case("GET", API + path, 400, pairs[0][0], params=pairs))
    return cases


def _path_cases(run_id: uuid.UUID) -> list[Case]:
    cases = []
    for method in ("GET", "DELETE"):
        for segment, code, needle in RUN_PATHS:
            cases.append(Case(method, f"{API}/{segment}", code, needle))
        cases.append(Case(method, f"{API}/{uuid.uuid4()}", 404, "not found"))
        cases.append(Case(method, f"{API}/{run_id}", 400, "dry_run", params={"dry_run": "1"}))
    for segment, code, needle in RUN_PATHS:
        cases.append(Case("PATCH", f"{API}/{segment}", code, needle, json={"status": "success"}))
    return cases


def _post_cases(world: World) -> list[Case]:
    flow = str(world.flows["Alpha"])  # alice's flow
    post = API + "/"
    bodies: list[tuple[Any, int, str]] = [
        ({}, 422, "body.flow_id"),
        ({"flow_id": "x"}, 422, "body.flow_id"),
        ({"flow_id": None}, 422, "body.flow_id"),
        ({"flow_id": flow, "trigger_type": "telepathy"}, 422, "body.trigger_type"),
        ({"flow_id": flow, "trigger_type": 7}, 422, "body.trigger_type"),
        ({"flow_id": flow, "session_id": "s" * 501}, 422, "body.session_id"),
        ({"flow_id": flow, "session_id": "a\x00b"}, 422, "body.session_id"),
        ({"flow_id": flow, "session_id": "a" + SURROGATE}, 422, "body.session_id"),
        ({"flow_id": flow, "session_id": ["list"]}, 422, "body.session_id"),
        ({"flow_id": flow, "user_id": str(world.users["bob"])}, 422, "body.user_id"),
        ({"flow_id": flow, "status": "success"}, 422, "body.status"),
        ({"flow_id": flow, "started_at": "2020-01-01"}, 422, "body.started_at"),
        ({"flow_id": str(uuid.uuid4())}, 404, "not found"),
        ({"flow_id": str(world.flows["Beta"])}, 404, "not found"),
        ([flow], 422, "body"),
        ("flow", 422, "body"),
    ]
    for value, needle in UNSTORABLE_VALUES:
        for name in ("inputs", "metadata"):
            bodies.append(({"flow_id": flow, name: value}, 422, f"body.{name}"))
        bodies.append(({"flow_id": flow, "inputs": {"nested": value}}, 422, needle))
    cases = [Case("POST", post, c, n, json=b, who="alice") for b, c, n in bodies]
    for raw, needle in RAW_UNSTORABLE:
        body = b'{"flow_id": "' + flow.encode() + b'", "inputs": ' + raw + b"}"
        cases.append(Case("POST", post, 422, needle, content=body, who="alice", headers=JSON))
    for raw in (b"{", b"not json", b'{"flow_id": }', b"\xff\xfe", b'{"a": "\\x"}'):
        cases.append(Case("POST", post, 400, "not valid JSON", content=raw, headers=JSON))
    for kind in ("text/plain", "application/x-www-form-urlencoded", "application/xml"):
        body = b'{"flow_id": "' + flow.encode() + b'"}'
        headers = {"content-type": kind}
        cases.append(Case("POST", post, 415, "application/json", content=body, headers=headers))
    cases.append(Case("POST", post, 400, "dry_run", json={"flow_id": flow}, params={"dry_run": 1}))
    return cases


JSON = {"content-type": "application/json"}


def _patch_cases(run_id: uuid.UUID) -> list[Case]:
    path = f"{API}/{run_id}"
    bodies: list[tuple[Any, str]] = [
        ({}, "body.status"),
        ({"status": "running"}, "body.status"),
        ({"status": "weird"}, "body.status"),
        ({"status": None}, "body.status"),
        ({"status": "success", "components_executed": -1}, "body.components_executed"),
        ({"status": "success", "components_executed": 2**31}, "body.components_executed"),
        ({"status": "success", "components_executed": "x"}, "body.components_executed"),
        ({"status": "success", "components_executed": 1.5}, "body.components_executed"),
        ({"status": "failure", "error_type": "e" * 201}, "body.error_type"),
        ({"status": "failure", "error_type": "a\x00"}, "body.error_type"),
        ({"status": "failure", "error_type": SURROGATE}, "body.error_type"),
        ({"status": "failure", "error_message": "m" * 10_001}, "body.error_message"),
        ({"status": "failure", "error_message": "nul \x00"}, "body.error_message"),
        ({"status": "failure", "error_message": "x" + SURROGATE}, "body.error_message"),
        ({"status": "success", "duration_ms": 5}, "body.duration_ms"),
        ({"status": "success", "ended_at": "2020-01-01"}, "body.ended_at"),
    ]
    for value, _ in UNSTORABLE_VALUES:
        bodies.append(({"status": "success", "outputs": value}, "body.outputs"))
    cases = [Case("PATCH", path, 422, n, json=b, who="alice") for b, n in bodies]
    for raw, needle in RAW_UNSTORABLE:
        body = b'{"status": "success", "outputs": ' + raw + b"}"
        cases.append(Case("PATCH", path, 422, needle, content=body, who="alice", headers=JSON))
    cases.append(Case("PATCH", path, 400, "not valid JSON", content=b"{'a'}", headers=JSON))
    cases.append(Case("PATCH", path, 404, "not found", json={"status": "success"}, who="bob"))
    return cases


def build_cases(world: World) -> list[Case]:
    """Every case; ``world`` supplies real ids (alice's running run, flows)."""
    truth = world.truth
    active = truth[(truth["user_id"] == world.users["alice"]) & (truth["status"] == "running")]
    run_id = uuid.UUID(str(active["id"].iloc[0]))
    return (
        _filter_cases(world)
        + _endpoint_cases()
        + _path_cases(run_id)
        + _post_cases(world)
        + _patch_cases(run_id)
    )
