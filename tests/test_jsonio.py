"""JSON import/export (tandemkv.jsonio) through the embedded store, fakes and the CLI."""

from __future__ import annotations

import base64
import json
import os
import re
import stat
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import tandemkv
from helpers.servers import ServerGroup, run_tandemkv
from tandemkv.embedded import EmbeddedStore
from tandemkv.jsonio import JsonExportError, JsonImportError, export_json, import_json

CLI_TIMEOUT = 30.0


@pytest.fixture
def db(tmp_path: Path) -> Iterator[EmbeddedStore]:
    store = tandemkv.open(str(tmp_path / "db"), fsync="no")
    yield store
    store.close()


def contents(store: EmbeddedStore) -> dict[bytes, bytes]:
    found = {}
    for key in store.keys("*"):
        value = store.get(key)
        assert value is not None
        found[key] = value
    return found


def write(path: Path, text: str | bytes) -> str:
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    return str(path)


def is_text(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


# ------------------------------------------------------------------ round trips


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(st.binary(max_size=24), st.binary(max_size=64), max_size=40))
def test_export_then_import_gives_back_every_byte(pairs: dict[bytes, bytes]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        source = tandemkv.open(os.path.join(tmp, "a"), fsync="no")
        try:
            for key, value in pairs.items():
                source.put(key, value)
            path = os.path.join(tmp, "dump.json")
            assert export_json(source, path, show_progress=False) == len(pairs)
        finally:
            source.close()

        with open(path, encoding="utf-8") as handle:
            document = json.load(handle)
        text = {k.decode(): v.decode() for k, v in pairs.items() if is_text(k) and is_text(v)}
        binary = {
            base64.b64encode(k).decode(): base64.b64encode(v).decode()
            for k, v in pairs.items()
            if not (is_text(k) and is_text(v))
        }
        assert document == {"data": text, "binary": binary}

        target = tandemkv.open(os.path.join(tmp, "b"), fsync="no")
        try:
            assert import_json(target, path, show_progress=False) == len(pairs)
            assert contents(target) == pairs
        finally:
            target.close()


def test_seed_format_file_written_by_hand(db: EmbeddedStore, tmp_path: Path) -> None:
    path = write(
        tmp_path / "seed.json",
        """{
  "data": {
    "user:1": "alice",
    "greeting": "héllo ✓",
    "empty": "",
    "": "empty key",
    "quote\\"d": "line\\nbreak\\u00e9"
  }
}
""",
    )
    assert import_json(db, path, show_progress=False) == 5
    assert contents(db) == {
        b"user:1": b"alice",
        b"greeting": "héllo ✓".encode(),
        b"empty": b"",
        b"": b"empty key",
        b'quote"d': "line\nbreaké".encode(),
    }


def test_export_writes_the_documented_format(db: EmbeddedStore, tmp_path: Path) -> None:
    db.put("plain", "text ✓")
    db.put(b"\xfb\xff", b"ok")  # key not UTF-8: "+/8=" in standard base64
    db.put("k", b"\x00\xc3")  # value not UTF-8: the whole pair goes binary
    path = tmp_path / "out.json"
    assert export_json(db, str(path), show_progress=False) == 3
    assert json.loads(path.read_text(encoding="utf-8")) == {
        "data": {"plain": "text ✓"},
        "binary": {"+/8=": "b2s=", "aw==": "AMM="},
    }
    assert "text ✓" in path.read_text(encoding="utf-8"), "UTF-8 is written as is, not escaped"


def test_a_file_with_an_empty_binary_section_and_an_empty_store(
    db: EmbeddedStore, tmp_path: Path
) -> None:
    path = tmp_path / "empty.json"
    assert export_json(db, str(path), show_progress=False) == 0
    assert json.loads(path.read_text()) == {"data": {}, "binary": {}}
    assert import_json(db, str(path), show_progress=False) == 0


def test_import_overwrites_given_keys_and_keeps_the_others(
    db: EmbeddedStore, tmp_path: Path
) -> None:
    db.put("a", "old")
    db.put("untouched", "still here")
    path = write(tmp_path / "in.json", '{"data": {"a": "new", "b": "2"}}')
    assert import_json(db, path, show_progress=False) == 2
    assert contents(db) == {b"a": b"new", b"b": b"2", b"untouched": b"still here"}


def test_ttls_are_not_exported_and_import_clears_them(db: EmbeddedStore, tmp_path: Path) -> None:
    db.put("session", "v", ttl=600)
    path = tmp_path / "out.json"
    export_json(db, str(path), show_progress=False)
    assert json.loads(path.read_text()) == {"data": {"session": "v"}, "binary": {}}
    import_json(db, str(path), show_progress=False)
    assert db.ttl("session") is None


def test_import_writes_in_bounded_mset_batches(tmp_path: Path) -> None:
    data = {f"k{i}": str(i) for i in range(2500)}
    path = write(tmp_path / "in.json", json.dumps({"data": data}))
    calls: list[tuple[object, ...]] = []

    class Recorder:
        def execute(self, *args: bytes | str | int) -> object:
            calls.append(args)
            return "OK"

        def close(self) -> None:
            pass

    assert import_json(Recorder(), path, show_progress=False) == 2500
    assert [c[0] for c in calls] == ["MSET"] * 3
    assert [len(c) - 1 for c in calls] == [2000, 2000, 1000]
    written = {c[i]: c[i + 1] for c in calls for i in range(1, len(c), 2)}
    assert written == {k.encode(): v.encode() for k, v in data.items()}


def test_two_hundred_thousand_keys_stay_fast(db: EmbeddedStore, tmp_path: Path) -> None:
    data = {f"key:{i:08d}": f"value-{i}" for i in range(200_000)}
    path = write(tmp_path / "big.json", json.dumps({"data": data}))
    started = time.perf_counter()
    assert import_json(db, path, show_progress=False) == 200_000
    imported = time.perf_counter() - started
    out = tmp_path / "big-out.json"
    started = time.perf_counter()
    assert export_json(db, str(out), show_progress=False) == 200_000
    exported = time.perf_counter() - started
    assert json.loads(out.read_text())["data"] == data
    # About 2 s and 0.5 s here; the bound only catches an accidental quadratic path.
    assert imported < 30 and exported < 15, (imported, exported)


# ------------------------------------------------------------------ malformed input

MALFORMED = [
    pytest.param(b"", ["not valid JSON", "line 1 column 1 (byte 0)"], id="empty-file"),
    pytest.param(
        b'{"data": {"a": "b",}}',
        ["not valid JSON", "line 1 column 20 (byte 19)"],
        id="trailing-comma",
    ),
    pytest.param(
        '{"data": {"é": "ü" "x": "y"}}'.encode(),
        ["not valid JSON", "Expecting ',' delimiter", "line 1 column 20 (byte 21)"],
        id="position-counts-bytes",
    ),
    pytest.param(
        b'{\n  "data": {\n    "a": "b"\n    "c": "d"\n  }\n}',
        ["line 4 column 5 (byte 31)"],
        id="multi-line",
    ),
    pytest.param(
        b'{"data": {"a": "b"', ["not valid JSON", "line 1 column 19 (byte 18)"], id="truncated"
    ),
    pytest.param(b'{"data": {"a": "b"}} x', ["not valid JSON", "Extra data"], id="trailing-junk"),
    pytest.param(
        b'{"data":\n {"a": "\xff"}}',
        ["not valid UTF-8", "line 2 column 9 (byte 17)"],
        id="not-utf8",
    ),
    pytest.param(b'[{"data": {}}]', ["top level", "found an array"], id="top-level-array"),
    pytest.param(b'"data"', ["top level", "found a string"], id="top-level-string"),
    pytest.param(b"{}", ['no "data" object'], id="missing-data"),
    pytest.param(b'{"binary": {}}', ['no "data" object'], id="only-binary"),
    pytest.param(
        b'{"data": ["a", "b"]}', ['"data" must be a JSON object, found an array'], id="data-array"
    ),
    pytest.param(b'{"data": null}', ['"data" must be a JSON object, found null'], id="data-null"),
    pytest.param(
        b'{"data": {"a": "1", "n": 1}}',
        ['value of key "n" in "data" must be a string, found a number'],
        id="number",
    ),
    pytest.param(b'{"data": {"n": null}}', ['key "n"', "found null"], id="null-value"),
    pytest.param(b'{"data": {"n": true}}', ['key "n"', "found a boolean"], id="bool-value"),
    pytest.param(b'{"data": {"n": {"x": "y"}}}', ['key "n"', "found an object"], id="object-value"),
    pytest.param(b'{"data": {"n": ["x"]}}', ['key "n"', "found an array"], id="array-value"),
    pytest.param(
        b'{"data": {"\\ud800": "x"}}', ["unpaired surrogate", '"binary"'], id="lone-surrogate"
    ),
    pytest.param(
        b'{"data": {"a": "1", "a": "2"}}', ['key "a" appears more than once'], id="repeated-key"
    ),
    pytest.param(
        b'{"data": {"A": "1"}, "binary": {"QQ==": "Mg=="}}',
        ['key "A" appears more than once'],
        id="key-in-both-sections",
    ),
    pytest.param(
        b'{"data": {}, "binary": []}', ['"binary" must be a JSON object'], id="binary-array"
    ),
    pytest.param(
        b'{"data": {}, "binary": {"QQ==": 5}}', ["must be a base64 string"], id="binary-number"
    ),
    pytest.param(
        b'{"data": {}, "binary": {"Q!==": "QQ=="}}',
        ['the key "Q!==" in "binary" is not valid base64'],
        id="bad-base64-key",
    ),
    pytest.param(
        b'{"data": {}, "binary": {"QQ==": "QQ"}}',
        ['the value of key "QQ==" in "binary" is not valid base64'],
        id="no-padding",
    ),
    pytest.param(
        b'{"data": {}, "binary": {"QQ==": "-_8="}}', ["not valid base64"], id="urlsafe-alphabet"
    ),
    pytest.param(
        b'{"data": {}, "binary": {"QQ==": "\xc3\xa9A=="}}',
        ["not valid base64"],
        id="non-ascii-base64",
    ),
    pytest.param(b'{"data": {}, "ttl": {}}', ['unknown top-level key "ttl"'], id="unknown-key"),
    pytest.param(
        b'{"data": {}, "a": 1, "b": 2}', ['unknown top-level keys "a", "b"'], id="unknown-keys"
    ),
]


@pytest.mark.parametrize(("content", "expected"), MALFORMED)
def test_malformed_files_are_refused_and_write_nothing(
    db: EmbeddedStore, tmp_path: Path, content: bytes, expected: list[str]
) -> None:
    db.put("keep", "me")
    path = write(tmp_path / "bad.json", content)
    with pytest.raises(JsonImportError) as caught:
        import_json(db, path, show_progress=False)
    message = str(caught.value)
    assert message.startswith(f"{path}: "), message
    for fragment in expected:
        assert fragment in message
    assert contents(db) == {b"keep": b"me"}


def test_a_problem_late_in_a_big_file_writes_nothing(db: EmbeddedStore, tmp_path: Path) -> None:
    data: dict[str, object] = {f"k{i}": "v" for i in range(5000)}
    data["k4999"] = 7
    path = write(tmp_path / "bad.json", json.dumps({"data": data}))
    with pytest.raises(JsonImportError, match='key "k4999"'):
        import_json(db, path, show_progress=False)
    assert len(db) == 0


def test_a_missing_file_is_an_import_error(db: EmbeddedStore, tmp_path: Path) -> None:
    missing = tmp_path / "nope.json"
    with pytest.raises(JsonImportError, match=re.escape(f"cannot read {missing}: No such file")):
        import_json(db, str(missing), show_progress=False)


# ------------------------------------------------------------------ export safety


class FailingOnSecondMget:
    """Delegates to a store but fails the second MGET, as a server dropping away would."""

    def __init__(self, store: EmbeddedStore) -> None:
        self.store = store
        self.mgets = 0

    def execute(self, *args: bytes | str | int) -> object:
        if args[0] == "MGET":
            self.mgets += 1
            if self.mgets == 2:
                raise ConnectionError("server went away")
        return self.store.execute(*args)

    def close(self) -> None:
        pass


def test_a_failed_export_leaves_the_old_file_and_no_temporary(
    db: EmbeddedStore, tmp_path: Path
) -> None:
    for i in range(2500):
        db.put(f"k{i}", "v")
    target = tmp_path / "out" / "dump.json"
    target.parent.mkdir()
    target.write_text('{"data": {"previous": "export"}}')
    with pytest.raises(ConnectionError):
        export_json(FailingOnSecondMget(db), str(target), show_progress=False)
    assert target.read_text() == '{"data": {"previous": "export"}}'
    assert os.listdir(target.parent) == ["dump.json"]


def test_export_replaces_the_file_with_ordinary_permissions(
    db: EmbeddedStore, tmp_path: Path
) -> None:
    db.put("a", "1")
    target = tmp_path / "dump.json"
    target.write_text("old")
    export_json(db, str(target), show_progress=False)
    assert json.loads(target.read_text())["data"] == {"a": "1"}
    umask = os.umask(0o022)
    os.umask(umask)
    assert stat.S_IMODE(target.stat().st_mode) == 0o666 & ~umask
    assert sorted(os.listdir(tmp_path)) == ["db", "dump.json"], "no temporary file is left"


def test_export_into_a_missing_directory_is_an_export_error(
    db: EmbeddedStore, tmp_path: Path
) -> None:
    with pytest.raises(JsonExportError, match=r"cannot write .*: No such file or directory"):
        export_json(db, str(tmp_path / "no" / "dump.json"), show_progress=False)


class ScriptedServer:
    """SCAN pages and MGET answers as a live server may give them: a key repeated by a
    restarted cursor, and a key deleted between SCAN and MGET."""

    def __init__(self) -> None:
        self.values = {b"a": b"1", b"b": b"2", b"gone": None}
        self.pages = {b"0": (b"7", [b"a", b"gone"]), b"7": (b"0", [b"a", b"b"])}

    def execute(self, *args: bytes | str | int) -> object:
        if args[0] == "DBSIZE":
            return 3
        if args[0] == "SCAN":
            assert isinstance(args[1], bytes)
            cursor, keys = self.pages[args[1]]
            return [cursor, keys]
        if args[0] == "TYPE":  # asked of a key MGET read as None
            return "none"
        assert args[0] == "MGET"
        return [self.values[k] for k in args[1:] if isinstance(k, bytes)]

    def close(self) -> None:
        pass


def test_export_gives_each_key_once_and_skips_keys_deleted_meanwhile(tmp_path: Path) -> None:
    path = tmp_path / "out.json"
    assert export_json(ScriptedServer(), str(path), show_progress=False) == 2
    assert json.loads(path.read_text()) == {"data": {"a": "1", "b": "2"}, "binary": {}}


def test_progress_goes_to_stderr_only_when_asked(
    db: EmbeddedStore, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path / "in.json", json.dumps({"data": {f"k{i}": "v" for i in range(3000)}}))
    import_json(db, path, show_progress=False)
    export_json(db, str(tmp_path / "o.json"), show_progress=False)
    assert capsys.readouterr() == ("", "")
    import_json(db, path, show_progress=True)
    export_json(db, str(tmp_path / "o.json"), show_progress=True)
    out, err = capsys.readouterr()
    assert out == ""
    assert "import" in err and "export" in err and "3.00k" in err


# ------------------------------------------------------------------ the command line


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return run_tandemkv(*args, timeout=CLI_TIMEOUT)


def assert_one_clean_error_line(result: subprocess.CompletedProcess[str]) -> str:
    assert result.stdout == ""
    assert "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("tandemkv: ")
    return lines[0]


def test_cli_import_and_export_on_a_data_directory(tmp_path: Path) -> None:
    data_dir = str(tmp_path / "db")
    source = write(tmp_path / "in.json", '{"data": {"a": "1", "é": "ü"}, "binary": {"/w==": ""}}')
    loaded = cli("--db-path", data_dir, "import", source)
    assert (loaded.returncode, loaded.stdout) == (0, f"imported 3 keys from {source}\n")
    assert loaded.stderr == "", "no progress bar when stderr is not a terminal"

    got = cli("--db-path", data_dir, "get", "é")
    assert (got.returncode, got.stdout) == (0, "ü\n"), got.stderr

    out = str(tmp_path / "out.json")
    dumped = cli("--db-path", data_dir, "export", out)
    assert (dumped.returncode, dumped.stdout) == (0, f"exported 3 keys to {out}\n")
    assert json.loads(Path(out).read_text()) == {
        "data": {"a": "1", "é": "ü"},
        "binary": {"/w==": ""},
    }


def test_cli_import_of_a_malformed_file_exits_2_and_writes_nothing(tmp_path: Path) -> None:
    data_dir = str(tmp_path / "db")
    bad = write(tmp_path / "bad.json", '{"data": {"a": "1",\n "b": 2}}')
    result = cli("--db-path", data_dir, "import", bad)
    assert result.returncode == 2
    line = assert_one_clean_error_line(result)
    assert line == (
        f'tandemkv: {bad}: the value of key "b" in "data" must be a string, found a number'
    )
    assert cli("--db-path", data_dir, "keys").stdout == ""

    broken = write(tmp_path / "broken.json", '{"data": {"a": "1"')
    result = cli("--db-path", data_dir, "import", broken)
    assert result.returncode == 2
    assert "line 1 column 19 (byte 18)" in assert_one_clean_error_line(result)

    result = cli("--db-path", data_dir, "import", str(tmp_path / "missing.json"))
    assert result.returncode == 2
    assert "cannot read" in assert_one_clean_error_line(result)


def test_cli_export_to_an_unwritable_place_fails_cleanly(tmp_path: Path) -> None:
    (tmp_path / "db").mkdir()  # an existing (empty) store: export of a missing one fails first
    result = cli("--db-path", str(tmp_path / "db"), "export", str(tmp_path / "no" / "x.json"))
    assert result.returncode == 2
    assert "cannot write" in assert_one_clean_error_line(result)


@pytest.mark.timeout(60)
def test_cli_import_and_export_through_a_server(tmp_path: Path) -> None:
    servers = ServerGroup(tmp_path / "runs")
    try:
        server = servers.start(tmp_path / "db")
        data = {f"k{i}": f"v{i}" for i in range(2500)}
        source = write(tmp_path / "in.json", json.dumps({"data": data, "binary": {"/w==": "AA=="}}))
        loaded = cli("--server", server.address, "import", source)
        assert (loaded.returncode, loaded.stdout) == (0, f"imported 2501 keys from {source}\n")
        with server.raw() as conn:
            assert conn.call("DBSIZE") == 2501
            assert conn.call("GET", b"\xff") == b"\x00"
        out = str(tmp_path / "out.json")
        dumped = cli("--server", server.address, "export", out)
        assert (dumped.returncode, dumped.stdout) == (0, f"exported 2501 keys to {out}\n")
        assert json.loads(Path(out).read_text()) == {"data": data, "binary": {"/w==": "AA=="}}
    finally:
        servers.stop_all()


def test_export_leaves_out_other_types_and_names_them(db: EmbeddedStore, tmp_path: Path) -> None:
    db.put("s", "v")
    db.execute("HSET", "h", "f", "v")
    db.execute("RPUSH", "l", "a")
    path = tmp_path / "out.json"
    skipped: list[tuple[bytes, bytes]] = []
    assert export_json(db, str(path), show_progress=False, skipped=skipped) == 1
    assert sorted(skipped) == [(b"h", b"hash"), (b"l", b"list")]
    assert json.loads(path.read_text()) == {"data": {"s": "v"}, "binary": {}}
