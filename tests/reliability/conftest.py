"""Fixtures of the reliability tests: a private PostgreSQL cluster (stopped and started by
the fault tests; the shared server is never touched), the load-bench module, and a
poisoned database per backend."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType

import pytest
from poisonrows import PoisonedDatabase, poison, poison_times_elsewhere
from reliakit import PrivateCluster, load_bench_module, postgres_required

from data.accounts import create_api_key, create_user
from data.db import build_engine
from data.demo import generate_demo


@pytest.fixture(scope="session")
def load_bench() -> ModuleType:
    return load_bench_module()


@pytest.fixture(scope="session")
def private_cluster(load_bench: ModuleType) -> Iterator[PrivateCluster]:
    """A PostgreSQL cluster of our own on a free port, dropped at the end of the session."""
    reason = PrivateCluster.unavailable_reason()
    if reason:
        if postgres_required():
            pytest.fail(reason)
        pytest.skip(reason)
    cluster = PrivateCluster(load_bench.free_port())
    cluster.create()
    try:
        yield cluster
    finally:
        cluster.drop()


@pytest.fixture
def running_cluster(private_cluster: PrivateCluster) -> PrivateCluster:
    """The private cluster, started if a previous test left it stopped."""
    private_cluster.start()
    return private_cluster


@pytest.fixture
def record_figure(
    request: pytest.FixtureRequest, record_testsuite_property: Callable[[str, object], None]
) -> Callable[[str, object], None]:
    """Report a measured figure (for docs/reliability.md) as a junit suite property named
    after the test; unlike ``record_figure`` this works with the default xunit2 family."""
    test = request.node.name

    def record(name: str, value: object) -> None:
        record_testsuite_property(f"{test}.{name}", str(value))

    return record


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def poisoned(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    sqlite_template: Path,
    load_bench: ModuleType,
) -> Iterator[PoisonedDatabase]:
    """One poisoned database per backend for each module using it (the tests only read, or
    write a few runs of their own, and compare against what is stored when they run)."""
    pg_name = None
    if request.param == "sqlite":
        path = tmp_path_factory.mktemp("poison") / "poison.db"
        shutil.copy(sqlite_template, path)
        url = f"sqlite:///{path}"
    else:
        request.getfixturevalue("pg_database_url")  # skips or fails like every PG test
        pg_name = f"flowruns_poison_{uuid.uuid4().hex[:8]}"
        url = load_bench.ensure_database(pg_name)
    engine = build_engine(url)
    try:
        generate_demo(engine, 120, days=10, seed=3)
        world = poison(engine, url)
        create_user(engine, "poison-admin", superuser=True)
        for who, username in (("admin", "poison-admin"), ("owner", "**root** <b>x</b>")):
            world.headers[who] = {"x-api-key": create_api_key(engine, username)[0]}
        plain, key_id = create_api_key(engine, "poison-admin", "bad time")
        world.headers["bad-time key"] = {"x-api-key": plain}
        world.audit_id = poison_times_elsewhere(engine, key_id)
        yield world
    finally:
        engine.dispose()
        if pg_name:
            load_bench.drop_database(pg_name)
