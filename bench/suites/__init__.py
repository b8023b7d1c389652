"""The registered suites, in report order. Each can be run alone with --suites NAME."""

from __future__ import annotations

from bench.suites.base import Suite
from bench.suites.durability import SUITE as DURABILITY
from bench.suites.failover import SUITE as FAILOVER
from bench.suites.profile import SUITE as PROFILE
from bench.suites.replicated import SUITE as REPLICATED
from bench.suites.single import SUITE as SINGLE

SUITES: dict[str, Suite] = {
    suite.name: suite for suite in (SINGLE, DURABILITY, REPLICATED, FAILOVER, PROFILE)
}
