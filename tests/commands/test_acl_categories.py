"""Our commands' ACL categories are Redis 7.0's: compared with a running redis-server.

commands/acl_categories.py was generated from redis-server's COMMAND INFO; this test asks
it again for every command and subcommand we implement that it has, so the table cannot
drift from Redis (nor from our command table: every command must have categories).
"""

from __future__ import annotations

from tandemkv.commands.acl_categories import (
    KEY_ACCESS,
    OUR_CATEGORIES,
    OUR_KEY_ACCESS,
    REDIS_CATEGORIES,
)
from tandemkv.commands.acl_model import universe
from tandemkv.commands.table import unique_specs


def test_every_command_and_subcommand_has_categories() -> None:
    missing = [
        name
        for spec in unique_specs()
        for name in (spec.name, *(f"{spec.name}|{sub}" for sub in spec.subcommands))
        if name not in REDIS_CATEGORIES and name not in OUR_CATEGORIES
    ]
    assert missing == []


def test_group_administration_is_admin_and_dangerous() -> None:
    for name in ("failover", "add_backup", "remove_node", "promote", "config|set", "acl|setuser"):
        assert {"admin", "dangerous"} <= set(universe().categories_of[name]), name


def test_categories_match_redis(redis_server: object) -> None:
    ours = universe().categories_of
    compared = 0
    with redis_server.raw() as raw:  # type: ignore[attr-defined]
        for spec in unique_specs():
            (entry,) = raw.call("COMMAND", "INFO", spec.name)
            if entry is None:
                assert spec.name not in REDIS_CATEGORIES, f"Redis has no {spec.name}"
                continue
            theirs = {_text(entry[0]): entry[6]}
            theirs.update((_text(sub[0]), sub[6]) for sub in entry[9])
            for name, categories in theirs.items():
                if name not in ours or (name != spec.name and name not in REDIS_CATEGORIES):
                    continue  # a subcommand we do not implement, or Redis 7.2's
                assert sorted(ours[name]) == sorted(_text(c)[1:] for c in categories), name
                compared += 1
    assert compared > 200


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def test_every_command_with_keys_says_what_it_does_to_them() -> None:
    from tandemkv.commands.acl_checks import _MOVABLE

    known = KEY_ACCESS | OUR_KEY_ACCESS
    missing = [
        spec.name
        for spec in unique_specs()
        if (spec.first_key or spec.name in _MOVABLE) and spec.name not in known
    ]
    assert missing == []


def test_key_access_matches_redis_key_specs(redis_server: object) -> None:
    compared = 0
    with redis_server.raw() as raw:  # type: ignore[attr-defined]
        for name, ours in KEY_ACCESS.items():
            (entry,) = raw.call("COMMAND", "INFO", name)
            needs = []
            for key_spec in entry[8]:
                fields = dict(zip(key_spec[::2], key_spec[1::2], strict=True))
                flags = {_text(f) for f in fields[_key(fields, "flags")]}
                reads = "R" if "access" in flags else ""
                needs.append(reads + ("W" if flags & {"insert", "delete", "update"} else ""))
            assert ",".join(needs) == ours, name
            compared += 1
    assert compared > 130


def _key(fields: dict[object, object], name: str) -> object:
    return next(k for k in fields if _text(k) == name)  # type: ignore[arg-type]
