"""Fixtures of the replica tests: a private primary and a streaming standby, made once per
module and dropped with pg_dropcluster --stop even when a test (or the setup) fails."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from reliability.reliakit import PrivateCluster, postgres_required
from replicakit import ReplicaPair, Replicated, free_port
from sqlalchemy.engine import make_url


@pytest.fixture(scope="module")
def replicated() -> Iterator[Replicated]:
    reason = PrivateCluster.unavailable_reason()
    if reason:
        if postgres_required():
            pytest.fail(reason)
        pytest.skip(reason)
    pair = ReplicaPair(free_port(), free_port())
    try:
        pair.create_primary()
        # The schema exists before the base backup: the standby starts with it.
        primary_url = pair.primary.new_database()
        pair.create_standby()
        pair.wait_streaming()
        name = str(make_url(primary_url).database)
        yield Replicated(pair, primary_url, pair.standby.url(name))
    finally:
        pair.drop()
