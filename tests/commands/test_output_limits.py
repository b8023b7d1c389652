"""client-output-buffer-limit: Redis's syntax, defaults and partial updates."""

from __future__ import annotations

import pytest

from tandemkv.commands.output_limits import MB, OutputLimit, OutputLimits
from tandemkv.commands.settings import output_limits_from
from tandemkv.protocol.types import OK, ErrorReply

from .harness import Client, World

REDIS_DEFAULT = "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60"


def test_defaults_are_redis_defaults() -> None:
    assert OutputLimits().show() == REDIS_DEFAULT
    assert not OutputLimits().normal.enabled


def test_a_config_file_value_changes_only_the_classes_it_names() -> None:
    limits = output_limits_from("normal 10mb 5mb 30 replica 1gb 0 0")
    assert limits.normal == OutputLimit(10 * MB, 5 * MB, 30)
    assert limits.replica == OutputLimit(1024 * MB, 0, 0)
    assert limits.pubsub == OutputLimits().pubsub
    assert output_limits_from("") == OutputLimits()


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("normal 1mb 1mb", "one or more"),
        ("master 0 0 0", "unknown client class 'master'"),
        ("normal x 0 0", "memory value"),
        ("normal 0 0 -1", "soft-seconds"),
    ],
)
def test_malformed_values_are_refused(raw: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        output_limits_from(raw)


def test_config_get_and_set_as_in_redis(world: World, c: Client) -> None:
    name = "client-output-buffer-limit"
    assert c("CONFIG", "GET", name) == {name.encode(): REDIS_DEFAULT.encode()}
    assert c("CONFIG", "SET", name, "normal 1mb 512kb 10") == OK
    assert world.engine.settings.client_output_buffer_limit.normal == OutputLimit(
        MB, 512 * 1024, 10
    )
    shown = c("CONFIG", "GET", name)
    assert shown == {
        name.encode(): REDIS_DEFAULT.replace("normal 0 0 0", "normal 1048576 524288 10").encode()
    }
    refused = c("CONFIG", "SET", name, "normal 1mb")
    assert isinstance(refused, ErrorReply)
    assert refused.message.startswith(
        "ERR CONFIG SET failed (possibly related to argument 'client-output-buffer-limit')"
    )
