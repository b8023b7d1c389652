"""Membership operations that need no running node."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any, cast

import pytest

from tandemkv.commands.errors import CommandError
from tandemkv.node import membership_ops
from tandemkv.protocol.types import OK
from tandemkv.replication import ConfState


def node_with(conf: ConfState, own_id: int) -> tuple[Any, list[str]]:
    calls: list[str] = []
    node = SimpleNamespace(conf=conf, id=own_id, mark_removed=lambda: calls.append("removed"))
    return cast(Any, node), calls


def test_only_another_member_of_the_group_can_say_this_node_was_removed() -> None:
    node, calls = node_with(ConfState((1, 2), (3,), (), ()), own_id=2)
    for stranger in (9, 2):  # a node of no group of ours, or this node itself
        with pytest.raises(CommandError, match="only a member"):
            membership_ops.removed(node, stranger)
    assert calls == []
    # A learner promoted by force fences the members it left behind this way.
    assert membership_ops.removed(node, 3) is OK
    assert membership_ops.removed(node, 1) is OK
    assert calls == ["removed", "removed"]


def test_a_forced_promotion_leaves_behind_every_other_member_with_its_address() -> None:
    conf = ConfState((1, 2, 4), (3,), (4,), ((1, "h:1"), (3, "h:3"), (4, "h:4")))
    assert membership_ops._members_left_behind(conf, 1) == {2: "", 3: "h:3", 4: "h:4"}
