"""What the fixtures contain: flows and runs, each run matched with the rows Langflow wrote for it.

Every run is checked against its expectation as soon as it ends, so a Langflow release that writes
differently stops the script with the difference instead of producing a quietly different fixture.
"""

from __future__ import annotations

import contextlib
import threading
import time
from dataclasses import dataclass
from typing import Any

import fake_openai
import flows
from client import LangflowClient, LangflowError
from probe import Probe, wait_for_new

SECOND_USER = "fixture_second"
SECOND_PASSWORD = "fixture-second-password"
DUMMY_OPENAI_KEY = "sk-fixture-not-a-real-key"
SLOW_SECONDS = 2.0
IN_FLIGHT_SECONDS = 900.0
LLM_TOKENS = fake_openai.PROMPT_TOKENS + fake_openai.COMPLETION_TOKENS


@dataclass(frozen=True)
class FlowSpec:
    name: str
    owner: str  # "admin" or "second"
    middle: tuple[str, ...]  # "upper", "fail", "sleep", "long", "openai"; "webhook" replaces input
    status: str  # the trace status every finished run of this flow must have
    component_spans: int  # spans without a parent: one per component that started
    llm_calls: int = 0


FLOWS: dict[str, FlowSpec] = {
    "echo": FlowSpec("Echo", "admin", ("upper",), "ok", 3),
    "echo_second_user": FlowSpec("Echo", "second", ("upper",), "ok", 3),
    "fails": FlowSpec("Fails", "admin", ("fail",), "error", 2),
    "slow": FlowSpec("Slow", "admin", ("sleep",), "ok", 3),
    "llm": FlowSpec("LLM", "admin", ("openai",), "ok", 3, llm_calls=1),
    "llm_streamed": FlowSpec("LLM streamed", "admin", ("openai_stream",), "ok", 3, llm_calls=1),
    "webhook": FlowSpec("Webhook", "admin", ("webhook",), "ok", 2),
    "doomed": FlowSpec("Deleted later", "admin", ("upper",), "ok", 3),
    "long": FlowSpec("Long", "admin", ("long",), "in_flight", 0),
}

# (flow key, how it is started, session id sent or None)
RUNS: tuple[tuple[str, str, str | None], ...] = (
    ("echo", "api", "s-alpha"),
    ("echo", "api", "s-alpha"),
    ("echo", "api", None),
    ("echo", "playground", "s-beta"),
    ("echo", "v2", "s-gamma"),
    ("fails", "api", "s-alpha"),
    ("fails", "playground", "s-beta"),
    ("slow", "api", "s-gamma"),
    ("llm", "api", "s-llm"),
    ("llm", "playground", "s-llm-playground"),
    ("llm_streamed", "playground", "s-llm-streamed"),
    ("llm_streamed", "api", "s-llm-streamed"),
    ("echo_second_user", "api", "s-other-user"),
    ("webhook", "webhook", None),
)


class Scenario:
    def __init__(self, client: LangflowClient, probe: Probe, admin_token: str) -> None:
        self.client, self.probe = client, probe
        self.tokens = {"admin": admin_token}
        self.keys: dict[str, str] = {}
        self.flow_ids: dict[str, str] = {}
        self.runs: list[dict[str, Any]] = []

    # --- setup ---------------------------------------------------------------------------------
    def create_users(self) -> None:
        self.client.create_user(self.tokens["admin"], SECOND_USER, SECOND_PASSWORD)
        self.tokens["second"] = self.client.login(SECOND_USER, SECOND_PASSWORD)
        for owner, token in self.tokens.items():
            self.keys[owner] = self.client.create_api_key(token, f"fixture key {owner}")

    def create_flows(self, llm_base_url: str, only: tuple[str, ...] | None = None) -> None:
        """The flows of `FLOWS` (or only those keys: the end-to-end check needs two)."""
        token = self.tokens["admin"]
        catalog = self.client.all_components(token)
        io = catalog["input_output"]
        sleep = self._custom(flows.SLEEP_CODE)
        openai = catalog["openai"]["ext:openai:OpenAIModelComponent@official"]
        llm = {"openai_api_base": llm_base_url, "api_key": DUMMY_OPENAI_KEY, "max_retries": 0}
        parts: dict[str, tuple[str, dict[str, Any], dict[str, Any] | None, str]] = {
            "upper": ("FixtureUpper", self._custom(flows.UPPER_CODE), None, "output"),
            "fail": ("FixtureFail", self._custom(flows.FAIL_CODE), None, "output"),
            "sleep": ("FixtureSleep", sleep, {"seconds": SLOW_SECONDS}, "output"),
            "long": ("FixtureSleep", sleep, {"seconds": IN_FLIGHT_SECONDS}, "output"),
            "openai": ("OpenAIModel", openai, llm, "text_output"),
            "openai_stream": ("OpenAIModel", openai, llm | {"stream": True}, "text_output"),
        }
        for key, spec in FLOWS.items():
            if only is not None and key not in only:
                continue
            if spec.middle == ("webhook",):
                document = flows.webhook_to_output(io["Webhook"], io["ChatOutput"])
            else:
                middle = [parts[name] for name in spec.middle]
                document = flows.chain(io["ChatInput"], middle, io["ChatOutput"])
            self.flow_ids[key] = self.client.create_flow(
                self.tokens[spec.owner], spec.name, document
            )

    def _custom(self, code: str) -> dict[str, Any]:
        return dict(self.client.custom_component(self.tokens["admin"], code)["data"])

    # --- runs ----------------------------------------------------------------------------------
    def run_all(self) -> None:
        for flow_key, via, session in RUNS:
            self.runs.append(self.run_one(flow_key, via, session))

    def run_one(self, flow_key: str, via: str, session: str | None) -> dict[str, Any]:
        spec, flow_id = FLOWS[flow_key], self.flow_ids[flow_key]
        traces_before, jobs_before = self.probe.trace_ids(), self.probe.job_ids()
        started = time.monotonic()
        self._start(flow_key, via, session)
        new_traces = wait_for_new(self.probe.trace_ids, traces_before, 1)
        new_jobs = wait_for_new(self.probe.job_ids, jobs_before, 1)
        if len(new_traces) != 1 or len(new_jobs) != 1:
            raise LangflowError(
                f"{flow_key} via {via}: expected one new trace and one new job row, "
                f"got traces {new_traces} and jobs {new_jobs}"
            )
        trace_id, job_id = new_traces[0], new_jobs[0]
        job = self._settled_job(job_id)
        run = {
            "flow": flow_key,
            "flow_id": flow_id,
            "flow_name": spec.name,
            "owner": spec.owner,
            "via": via,
            "session_id_sent": session,
            "trace_id": trace_id,
            "job_id": job_id,
            "job_status": job["status"],
            "job_id_is_trace_id": job_id == trace_id,
            "wall_seconds": round(time.monotonic() - started, 1),
            **self.expected(flow_key, session),
        }
        self._check(run, self.probe.trace(trace_id))
        return run

    def _start(self, flow_key: str, via: str, session: str | None) -> None:
        owner = FLOWS[flow_key].owner
        flow_id, text = self.flow_ids[flow_key], f"fixture input for {flow_key}"
        if via == "api":
            self.client.run(self.keys[owner], flow_id, text, session)
        elif via == "playground":
            self.client.build(self.tokens[owner], flow_id, text, session or flow_id)
        elif via == "v2":
            body = {"flow_id": flow_id, "input_value": text, "session_id": session}
            self.client.json("POST", "/api/v2/workflows", body, api_key=self.keys[owner])
        elif via == "webhook":
            body = {"fixture": flow_key, "note": text}
            self.client.json("POST", f"/api/v1/webhook/{flow_id}", body, api_key=self.keys[owner])
        else:
            raise ValueError(via)

    def _settled_job(self, job_id: str, timeout: float = 60) -> dict[str, Any]:
        """The job row once it is no longer queued/in_progress (it can end after the trace)."""
        deadline = time.monotonic() + timeout
        while True:
            job = self.probe.job(job_id)
            assert job is not None
            if job["status"] not in ("queued", "in_progress") or time.monotonic() > deadline:
                return job
            time.sleep(0.5)

    def expected(self, flow_key: str, session: str | None) -> dict[str, Any]:
        spec = FLOWS[flow_key]
        return {
            "status": spec.status,
            # Langflow stores the flow id when the caller gave no session.
            "session_id": session if session is not None else self.flow_ids[flow_key],
            "component_spans": spec.component_spans,
            "llm_spans": spec.llm_calls,
            "input_tokens": spec.llm_calls * fake_openai.PROMPT_TOKENS,
            "output_tokens": spec.llm_calls * fake_openai.COMPLETION_TOKENS,
            "total_tokens": spec.llm_calls * LLM_TOKENS,
            "error_contains": flows.FAIL_MESSAGE if spec.status == "error" else None,
        }

    @staticmethod
    def _check(run: dict[str, Any], trace: dict[str, Any]) -> None:
        wanted = {key: run[key] for key in trace if key in run}
        got = {key: trace[key] for key in wanted}
        errors_ok = run["error_contains"] is None or any(
            run["error_contains"] in error for error in trace["errors"]
        )
        if got != wanted or not errors_ok:
            raise LangflowError(f"{run['flow']} via {run['via']}: wrote {trace}, expected {run}")

    # --- the two special cases -----------------------------------------------------------------
    def delete_after_run(self) -> dict[str, Any]:
        """Run a flow, delete it through Langflow's API, and record what of the run survived."""
        run = self.run_one("doomed", "api", "s-doomed")
        self.client.delete_flow(self.tokens["admin"], run["flow_id"])
        run["after_flow_delete"] = {
            "trace_rows": len({run["trace_id"]} & self.probe.trace_ids()),
            "job_rows": len({run["job_id"]} & self.probe.job_ids()),
        }
        return run

    def start_in_flight(self) -> dict[str, Any]:
        """Start a long API run in the background and return once its job row is in progress."""
        jobs_before, flow_id = self.probe.job_ids(), self.flow_ids["long"]

        def call() -> None:
            # The server is stopped under it, after the snapshot.
            with contextlib.suppress(OSError):
                self.client.run(self.keys["admin"], flow_id, "still running", "s-in-flight")

        threading.Thread(target=call, daemon=True).start()
        new_jobs = wait_for_new(self.probe.job_ids, jobs_before, 1)
        if len(new_jobs) != 1:
            raise LangflowError(f"in-flight run: expected one new job row, got {new_jobs}")
        time.sleep(3)  # well inside the sleeping component, long after the job row was written
        job = self.probe.job(new_jobs[0])
        if job is None or job["status"] != "in_progress":
            raise LangflowError(f"in-flight run: job row is {job}, not in_progress")
        return {
            "flow": "long",
            "flow_id": flow_id,
            "flow_name": FLOWS["long"].name,
            "owner": "admin",
            "via": "api",
            "session_id_sent": "s-in-flight",
            "job_id": new_jobs[0],
            "job_status": "in_progress",
            "trace_id": None,
            "status": "in_flight",
        }
