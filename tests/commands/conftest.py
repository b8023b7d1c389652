"""Fixtures for command-layer tests: a world (engine + fake clock) and a client in it."""

from __future__ import annotations

import pytest

from .harness import Client, World


@pytest.fixture
def world() -> World:
    return World()


@pytest.fixture
def c(world: World) -> Client:
    return world.client()
