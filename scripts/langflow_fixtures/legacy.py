"""Langflow before native traces (<= 1.7): no trace, span or job table, and no run id anywhere.

What a run leaves in 1.7.3 is its chat `message` rows (with the session id; a failure adds one
from the failing component) and, for some runs, `vertex_build` rows (one per component, replaced
by later builds): nothing ties them to one run. The `transaction` table exists but stays empty:
lfx 0.2's `log_transaction` only writes a debug line. A sync must call such a database "too old".
"""

from __future__ import annotations

from typing import Any

import flows
from client import LangflowClient, LangflowError
from probe import Probe, wait_for_new
from server import SUPERUSER, SUPERUSER_PASSWORD, LangflowServer

MESSAGES = "SELECT id FROM message"

# (flow, how it is started, session sent, chat `message` rows the run must write)
LEGACY_RUNS: tuple[tuple[str, str, str | None, int], ...] = (
    ("Echo", "api", "s-alpha", 2),
    ("Echo", "api", None, 2),
    ("Echo", "playground", "s-beta", 2),
    ("Fails", "api", "s-alpha", 2),
)


def _flows(client: LangflowClient, token: str) -> dict[str, str]:
    catalog = client.all_components(token)
    io = catalog["input_output"]
    custom = {
        "Echo": ("FixtureUpper", client.custom_component(token, flows.UPPER_CODE)["data"]),
        "Fails": ("FixtureFail", client.custom_component(token, flows.FAIL_CODE)["data"]),
    }
    return {
        name: client.create_flow(
            token,
            name,
            flows.chain(io["ChatInput"], [(kind, node, None, "output")], io["ChatOutput"]),
        )
        for name, (kind, node) in custom.items()
    }


def run_transactions(server: LangflowServer, probe: Probe, _llm_base_url: str) -> dict[str, Any]:
    client = server.client
    token = client.login(SUPERUSER, SUPERUSER_PASSWORD)
    key = client.create_api_key(token, "fixture key admin")
    flow_ids = _flows(client, token)
    runs = []
    for name, via, session, messages in LEGACY_RUNS:
        before = probe.ids(MESSAGES)
        text = f"legacy input for {name}"
        if via == "api":
            client.run(key, flow_ids[name], text, session)
        else:
            client.build(token, flow_ids[name], text, session or flow_ids[name])
        new = wait_for_new(lambda: probe.ids(MESSAGES), before, messages, timeout=10)
        if len(new) != messages:
            raise LangflowError(f"{name} via {via}: {len(new)} message rows, expected {messages}")
        runs.append(
            {
                "flow_name": name,
                "flow_id": flow_ids[name],
                "via": via,
                "session_id_sent": session,
                "status": "error" if name == "Fails" else "ok",
                "message_ids": new,
            }
        )
    if probe.rows('SELECT count(*) FROM "transaction"')[0][0]:
        raise LangflowError("Langflow 1.7 wrote transaction rows: update legacy.py and its docs")
    return {"flows": flow_ids, "runs": runs}
