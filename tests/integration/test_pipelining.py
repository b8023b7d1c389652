"""Large pipelines: every reply arrives, correct and in order."""

from __future__ import annotations

import threading

import redis

from helpers.resp import RespError, encode_command
from helpers.servers import ServerProcess

PIPELINE_SIZE = 10_000


def test_redis_py_pipeline_of_ten_thousand(r: redis.Redis) -> None:
    pipe = r.pipeline(transaction=False)
    expected: list[object] = []
    for i in range(PIPELINE_SIZE // 4):
        key = f"p:{i}"
        pipe.set(key, i)
        pipe.incr(key)
        pipe.get(key)
        pipe.incr("total")
        expected += [True, i + 1, str(i + 1).encode(), i + 1]
    replies = pipe.execute()
    assert len(replies) == PIPELINE_SIZE
    assert replies == expected
    assert r.dbsize() == PIPELINE_SIZE // 4 + 1


def test_pipeline_errors_stay_in_their_slot(r: redis.Redis) -> None:
    r.set("text", "abc")
    pipe = r.pipeline(transaction=False)
    for i in range(1000):
        if i % 100 == 50:
            pipe.incr("text")
        else:
            pipe.set(f"k{i}", i)
    replies = pipe.execute(raise_on_error=False)
    for i, reply in enumerate(replies):
        if i % 100 == 50:
            assert isinstance(reply, redis.ResponseError), (i, reply)
            assert str(reply) == "value is not an integer or out of range"
        else:
            assert reply is True, (i, reply)


def test_raw_pipeline_in_one_write(server: ServerProcess) -> None:
    """10k commands (multibulk and inline mixed) sent in a single sendall."""
    commands: list[bytes] = []
    expected: list[object] = []
    for i in range(PIPELINE_SIZE):
        match i % 4:
            case 0:
                commands.append(encode_command("SET", f"raw:{i}", f"v{i}"))
                expected.append("OK")
            case 1:
                commands.append(encode_command("GET", f"raw:{i - 1}"))
                expected.append(f"v{i - 1}".encode())
            case 2:
                commands.append(b"INCR counter\r\n")
                expected.append(i // 4 + 1)
            case _:
                commands.append(encode_command("ECHO", f"echo-{i}"))
                expected.append(f"echo-{i}".encode())
    payload = b"".join(commands)
    with server.raw(timeout=30) as conn:
        sender_errors: list[BaseException] = []

        def send_all() -> None:
            try:
                conn.send(payload)
            except BaseException as exc:  # reported below
                sender_errors.append(exc)

        sender = threading.Thread(target=send_all, daemon=True)
        sender.start()
        replies = conn.read_replies(PIPELINE_SIZE)
        sender.join(timeout=30)
        assert not sender_errors
        assert replies == expected
        assert conn.call("GET", "counter") == str(PIPELINE_SIZE // 4).encode()


def test_raw_pipeline_with_errors_in_the_middle(server: ServerProcess) -> None:
    payload = b"".join(
        encode_command("NOSUCH") if i % 1000 == 999 else encode_command("PING")
        for i in range(PIPELINE_SIZE)
    )
    with server.raw(timeout=30) as conn:
        conn.send(payload)
        replies = conn.read_replies(PIPELINE_SIZE)
    unknown = RespError("ERR unknown command 'NOSUCH', with args beginning with: ")
    assert replies == [unknown if i % 1000 == 999 else "PONG" for i in range(PIPELINE_SIZE)]
