"""API keys (stored only as SHA-256 hashes, authentication outcomes) and the demo generator."""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest
from sqlalchemy import Engine, select, text, update

from data import queries as q
from data.accounts import (
    authenticate,
    create_api_key,
    create_user,
    get_or_create_user,
    list_api_keys,
    revoke_api_key,
)
from data.demo import FLOWS, generate_demo, is_demo_database
from data.errors import Conflict, InvalidQuery, NotFound
from data.filters import FlowRunFilter
from data.models import ApiKey, User


def test_keys_are_stored_only_as_hashes(engine: Engine) -> None:
    create_user(engine, "alice")
    plain, key_id = create_api_key(engine, "alice", "ci")
    assert plain.startswith("frh_") and len(plain) > 40
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT * FROM flowrun_api_key")).mappings().all()
    assert len(rows) == 1
    for value in rows[0].values():
        assert plain not in str(value)
    stored = rows[0]["key_hash"]
    assert stored == hashlib.sha256(plain.encode()).hexdigest()
    [info] = list_api_keys(engine)
    assert (info.id, info.username, info.name, info.revoked_at) == (key_id, "alice", "ci", None)
    assert plain.startswith(info.key_prefix) and len(info.key_prefix) < len(plain) // 3


def test_authenticate_ok_revoked_inactive_and_garbage(engine: Engine) -> None:
    user_id = create_user(engine, "bob", superuser=True)
    plain, key_id = create_api_key(engine, "bob")
    other, _ = create_api_key(engine, "bob", "second")
    principal = authenticate(engine, plain)
    assert principal is not None
    assert (principal.user_id, principal.username, principal.is_superuser) == (
        user_id,
        "bob",
        True,
    )
    with engine.connect() as conn:
        used = conn.execute(select(ApiKey.last_used_at).where(ApiKey.id == key_id)).scalar_one()
    assert used is not None
    for garbage in ("", "nope", "frh_", "frh_" + "x" * 43, plain + "x", plain[:-1], "x" * 10_000):
        assert authenticate(engine, garbage) is None
    revoke_api_key(engine, key_id)
    assert authenticate(engine, plain) is None
    assert authenticate(engine, other) is not None  # only the revoked key stops working
    with pytest.raises(NotFound):
        revoke_api_key(engine, key_id)
    with engine.begin() as conn:
        conn.execute(update(User).where(User.id == user_id).values(is_active=False))
    assert authenticate(engine, other) is None


def test_user_management_errors(engine: Engine) -> None:
    first = create_user(engine, "  carol ")
    assert get_or_create_user(engine, "carol") == first
    assert get_or_create_user(engine, "dave") != first
    with pytest.raises(Conflict):
        create_user(engine, "carol")
    with pytest.raises(InvalidQuery, match="username"):
        create_user(engine, "   ")
    with pytest.raises(NotFound):
        create_api_key(engine, "nobody")


# ---- demo ---------------------------------------------------------------------------

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def demo_frame(engine: Engine) -> pd.DataFrame:
    runs = [row for chunk in q.iter_runs(engine, FlowRunFilter(), chunk_size=5000) for row in chunk]
    frame = pd.DataFrame(runs)
    return frame.sort_values("id").reset_index(drop=True)


def test_demo_is_deterministic_and_realistic(engine: Engine) -> None:
    progress: list[tuple[int, int]] = []
    summary = generate_demo(
        engine,
        3000,
        days=14,
        seed=7,
        now=NOW,
        chunk_size=1000,
        progress=lambda d, t: progress.append((d, t)),
    )
    assert summary.runs == 3000
    assert progress[-1] == (3000, 3000)
    assert is_demo_database(engine)
    first = demo_frame(engine)
    assert len(first) == 3000
    assert first["id"].is_unique
    # Same seed and now: the same runs (flows are reused, run ids come from the seed).
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM flow_run"))
    generate_demo(engine, 3000, days=14, seed=7, now=NOW, chunk_size=1000)
    again = demo_frame(engine)
    pd.testing.assert_frame_equal(first, again)
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM flow_run"))
    generate_demo(engine, 3000, days=14, seed=8, now=NOW)
    assert not demo_frame(engine)["id"].equals(first["id"])

    frame = first
    assert frame["started_at"].min() >= NOW - timedelta(days=14)
    assert frame["started_at"].max() <= NOW
    assert frame["flow_name"].nunique() >= 5
    assert set(frame["flow_name"]) <= {f.name for f in FLOWS}
    assert frame["trigger_type"].nunique() >= 3
    counts = frame["status"].value_counts()
    assert counts.get("failure", 0) > 0
    assert counts.get("success", 0) > counts.get("failure", 0)
    assert counts.get("running", 0) + counts.get("pending", 0) > 0
    finished = frame[frame["status"].isin(["success", "failure", "cancelled"])]
    assert (finished["duration_ms"] > 0).all()
    assert (finished["ended_at"] > finished["started_at"]).all()
    active = frame[frame["status"].isin(["running", "pending"])]
    assert active["duration_ms"].isna().all()
    failures = frame[frame["status"] == "failure"]
    assert failures["error_type"].notna().all() and failures["error_message"].notna().all()
    assert failures["error_type"].nunique() >= 3
    assert frame["session_id"].notna().all() and frame["user_id"].notna().all()


def test_demo_rejects_bad_sizes(engine: Engine) -> None:
    with pytest.raises(InvalidQuery, match="runs"):
        generate_demo(engine, -1)
    with pytest.raises(InvalidQuery, match="days"):
        generate_demo(engine, 10, days=0)
    assert not is_demo_database(engine)


def test_demo_with_zero_runs_creates_flows_only(engine: Engine) -> None:
    summary = generate_demo(engine, 0, now=NOW)
    assert summary.runs == 0
    assert len(q.list_flows(engine)) == len(FLOWS) == summary.flows
    assert q.count_runs(engine, FlowRunFilter()) == 0
    assert uuid.UUID(str(q.list_flows(engine)[0][0]))
