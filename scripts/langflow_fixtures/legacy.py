"""Langflow before native traces (<= 1.7): a run leaves only per-component `transaction` rows,
with no run id; this makes the database a sync must recognise as "too old"."""

from __future__ import annotations

from typing import Any

import flows
from client import LangflowError
from probe import Probe, wait_for_new
from server import SUPERUSER, SUPERUSER_PASSWORD, LangflowServer

# (flow, how it is started, session sent, transaction rows expected, statuses expected)
LEGACY_RUNS: tuple[tuple[str, str, str | None, int, tuple[str, ...]], ...] = (
    ("Echo", "api", "s-alpha", 3, ("success", "success", "success")),
    ("Echo", "api", None, 3, ("success", "success", "success")),
    ("Echo", "playground", "s-beta", 3, ("success", "success", "success")),
    ("Fails", "api", "s-alpha", 2, ("error", "success")),
)


def run_transactions(server: LangflowServer, probe: Probe, _llm_base_url: str) -> dict[str, Any]:
    client = server.client
    token = client.login(SUPERUSER, SUPERUSER_PASSWORD)
    key = client.create_api_key(token, "fixture key admin")
    catalog = client.all_components(token)
    # 1.7 files Chat Input/Output under "input_output" like 1.13; older releases split them.
    io = catalog.get("input_output") or {**catalog["inputs"], **catalog["outputs"]}
    custom = {
        "Echo": ("FixtureUpper", client.custom_component(token, flows.UPPER_CODE)["data"]),
        "Fails": ("FixtureFail", client.custom_component(token, flows.FAIL_CODE)["data"]),
    }
    flow_ids = {
        name: client.create_flow(
            token,
            name,
            flows.chain(io["ChatInput"], [(kind, node, None, "output")], io["ChatOutput"]),
        )
        for name, (kind, node) in custom.items()
    }
    runs = []
    for name, via, session, count, statuses in LEGACY_RUNS:
        before = probe.transaction_ids()
        text = f"legacy input for {name}"
        if via == "api":
            client.run(key, flow_ids[name], text, session)
        else:
            client.build(token, flow_ids[name], text, session or flow_ids[name])
        new = wait_for_new(probe.transaction_ids, before, count)
        got = sorted(probe.transaction_statuses(new))
        if len(new) != count or got != sorted(statuses):
            raise LangflowError(f"{name} via {via}: transactions {got}, expected {statuses}")
        runs.append(
            {
                "flow_name": name,
                "flow_id": flow_ids[name],
                "via": via,
                "session_id_sent": session,
                "transaction_ids": new,
                "transaction_statuses": sorted(statuses),
            }
        )
    return {"flows": flow_ids, "runs": runs}
