"""The bad-input matrix: every API parameter and body field, on both backends, against
one seeded world per backend. Each case must answer its precise 4xx with a JSON
``detail`` naming the parameter, no traceback, and leave the database unchanged."""

from __future__ import annotations

from apiworld import World
from bad_inputs import build_cases
from fastapi.testclient import TestClient
from hostile import fingerprint, problem_with, send
from sqlalchemy import Engine

MIN_CASES_PER_BACKEND = 250


def test_every_bad_input_is_a_precise_4xx_that_changes_nothing(
    shared_client: TestClient, shared_world: World, shared_engine: Engine
) -> None:
    cases = build_cases(shared_world)
    assert len(cases) >= MIN_CASES_PER_BACKEND
    before = fingerprint(shared_engine)
    failures = []
    for case in cases:
        response = send(shared_client, case, shared_world.headers(case.who))
        problem = problem_with(response, case)
        if problem is None and case.method != "GET":
            # Writes are checked one by one, reads once at the end.
            problem = None if fingerprint(shared_engine) == before else "database changed"
        if problem is not None:
            failures.append(f"{case.method} {case.path} {case.params!r:.120} -> {problem}")
    assert not failures, f"{len(failures)} of {len(cases)} cases:\n" + "\n".join(failures)
    assert fingerprint(shared_engine) == before
