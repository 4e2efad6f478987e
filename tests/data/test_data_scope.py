"""The one scope rule (data.scope), shared by the API and the dashboard."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, insert

from data.accounts import Principal, create_user
from data.filters import FlowRunFilter
from data.models import Flow, FlowRun
from data.queries import last_successful_run
from data.scope import scope_user_id, scoped

ALICE = Principal(uuid.uuid4(), "alice", False)
ROOT = Principal(uuid.uuid4(), "root", True)


def test_scope_narrows_a_regular_user_and_never_widens() -> None:
    flt = FlowRunFilter.build(statuses=["failure"])
    assert scoped(flt, ALICE) == flt.replace(user_id=ALICE.user_id)
    assert scoped(flt.replace(user_id=uuid.uuid4()), ALICE).user_id == ALICE.user_id
    assert scoped(flt, ROOT) == flt and scoped(flt, None) == flt
    assert (scope_user_id(ALICE), scope_user_id(ROOT), scope_user_id(None)) == (
        ALICE.user_id,
        None,
        None,
    )


def test_the_comparison_baseline_stays_in_scope(engine: Engine) -> None:
    """Alice compares her run with the flow's last success: bob's newer success on the same
    flow (and its payloads) is not hers to see."""
    alice, bob = create_user(engine, "alice"), create_user(engine, "bob")
    flow = uuid.uuid4()
    now = datetime.now(UTC).replace(microsecond=0)
    runs = [
        (alice, now - timedelta(hours=5), "success"),
        (bob, now - timedelta(hours=2), "success"),
        (alice, now - timedelta(hours=1), "failure"),
    ]
    ids = [uuid.uuid4() for _ in runs]
    with engine.begin() as conn:
        conn.execute(insert(Flow), [{"id": flow, "name": "shared", "user_id": alice}])
        conn.execute(
            insert(FlowRun),
            [
                {"id": i, "flow_id": flow, "user_id": u, "started_at": t, "status": s}
                for i, (u, t, s) in zip(ids, runs, strict=True)
            ],
        )
    mine = scoped(FlowRunFilter(), Principal(alice, "alice", False))
    found = last_successful_run(engine, flow, now, mine)
    assert found is not None and found.id == ids[0]
    unscoped = last_successful_run(engine, flow, now)
    assert unscoped is not None and unscoped.id == ids[1]
