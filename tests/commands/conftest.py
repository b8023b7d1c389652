"""Fixtures for command-layer tests: a world (engine + fake clock) and a client in it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .harness import Client, World
from .parity import PASSWORD, start_reference


@pytest.fixture
def world() -> World:
    return World()


@pytest.fixture
def c(world: World) -> Client:
    return world.client()


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    yield from start_reference(tmp_path_factory.mktemp("redis-open"), None)


@pytest.fixture(scope="module")
def locked_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    yield from start_reference(tmp_path_factory.mktemp("redis-locked"), PASSWORD)
