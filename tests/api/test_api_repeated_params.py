"""A single-valued query parameter given twice is a 400 naming it, on every route.

The routes and which of their parameters take one value are read from the OpenAPI
document (``type: array`` or not), independently of how the API decides; every such
parameter of every route is sent twice and must be refused without changing anything.
List-valued parameters (``status``, ``flow_id``...) stay repeatable."""

from __future__ import annotations

import re
from typing import Any

from apiworld import API, World
from fastapi.testclient import TestClient
from hostile import Case, fingerprint, problem_with, send
from sqlalchemy import Engine

# Values that parse for any parameter type is not needed: the repeat is refused first.
VALUE = "1"
BODIES = {"post": {"flow_id": None}, "patch": {"status": "success"}}


def _is_array(schema: dict[str, Any]) -> bool:
    options = schema.get("anyOf", [schema])
    return any(option.get("type") == "array" for option in options)


def _repeat_cases(client: TestClient, world: World, run_id: str) -> list[Case]:
    spec = client.app.openapi()  # type: ignore[attr-defined]
    cases = []
    for path, methods in spec["paths"].items():
        concrete = re.sub(r"\{run_id\}", run_id, path)
        for method, operation in methods.items():
            for parameter in operation.get("parameters", []):
                if parameter["in"] != "query" or _is_array(parameter["schema"]):
                    continue
                name = parameter["name"]
                body = BODIES.get(method)
                if body is not None and "flow_id" in body:
                    body = {"flow_id": str(world.flows["Alpha"])}
                params = [(name, VALUE), (name, VALUE + "0")]
                cases.append(Case(method.upper(), concrete, 400, name, params=params, json=body))
    return cases


def test_every_single_valued_parameter_repeated_is_refused(
    shared_client: TestClient, shared_world: World, shared_engine: Engine
) -> None:
    truth = shared_world.truth
    run_id = str(truth["id"].iloc[0])
    cases = _repeat_cases(shared_client, shared_world, run_id)
    names = {(case.method, case.path, case.needle) for case in cases}
    # The walk covers the attack of issue 18 (and is not vacuous).
    assert ("DELETE", API + "/", "dry_run") in names
    assert ("DELETE", API + "/", "all") in names
    assert len(cases) >= 40
    before = fingerprint(shared_engine)
    failures = []
    for case in cases:
        response = send(shared_client, case, shared_world.headers("admin"))
        problem = problem_with(response, case)
        if problem is None and "more than once" not in response.json()["detail"]:
            problem = f"not the repeat refusal: {response.json()['detail']}"
        if problem is not None:
            failures.append(f"{case.method} {case.path} {case.params} -> {problem}")
    assert not failures, f"{len(failures)} of {len(cases)}:\n" + "\n".join(failures)
    assert fingerprint(shared_engine) == before


def test_list_valued_parameters_stay_repeatable(
    shared_client: TestClient, shared_world: World
) -> None:
    truth = shared_world.truth
    flows = [str(shared_world.flows["Alpha"]), str(shared_world.flows["Beta"])]
    params = [("status", "success"), ("status", "failure"), ("days", "30")]
    params += [("flow_id", flow) for flow in flows]
    response = shared_client.get(
        API + "/stats", params=params, headers=shared_world.headers("admin")
    )
    assert response.status_code == 200, response.text
    picked = truth[
        truth["status"].isin(["success", "failure"]) & truth["flow_id"].astype(str).isin(flows)
    ]
    assert response.json()["total_runs"] == len(picked)
