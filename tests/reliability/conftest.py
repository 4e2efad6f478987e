"""Fixtures of the reliability tests: a private PostgreSQL cluster (stopped and started by
the fault tests; the shared server is never touched) and the load-bench module."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from types import ModuleType

import pytest
from reliakit import PrivateCluster, load_bench_module, postgres_required


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
