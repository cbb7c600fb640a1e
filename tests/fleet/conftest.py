"""Fixtures of the fleet tests: a real 3-node JetStream cluster per test (a test may kill
or stop nodes), with users for the hosts ``alpha`` and ``beta``."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .nats_cluster import NatsCluster, running_cluster

HOSTS = ["alpha", "beta"]


@pytest.fixture
def cluster() -> Iterator[NatsCluster]:
    with running_cluster(HOSTS) as running:
        yield running
