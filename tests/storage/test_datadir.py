"""The data-directory lock: a second process gets one clear error naming the holder's pid."""

from __future__ import annotations

import errno
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tandemkv.storage.datadir import LOCK_FILE, DataDir, unusable_reason
from tandemkv.storage.errors import DataDirLockedError, DataDirUnusableError

SRC = str(Path(__file__).resolve().parents[2] / "src")

HOLDER = """
import sys
from tandemkv.storage.datadir import DataDir
d = DataDir.open(sys.argv[1])
print("locked", flush=True)
sys.stdin.readline()
"""

CONTENDER = """
import sys
from tandemkv.storage.datadir import DataDir
from tandemkv.storage.errors import DataDirLockedError, DataDirUnusableError
try:
    DataDir.open(sys.argv[1])
except DataDirLockedError as exc:
    print(exc.pid, exc, sep="|")
    sys.exit(3)
print("opened")
"""


def python(code: str, path: Path, **kwargs: object) -> subprocess.Popen[str]:
    env = dict(os.environ, PYTHONPATH=SRC)
    return subprocess.Popen(  # type: ignore[call-overload,no-any-return]
        [sys.executable, "-c", code, str(path)], env=env, text=True, **kwargs
    )


@pytest.fixture
def holder(tmp_path: Path) -> Iterator[subprocess.Popen[str]]:
    proc = python(HOLDER, tmp_path, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "locked"
        yield proc
    finally:
        proc.kill()
        proc.wait(timeout=10)


def test_a_second_process_is_refused_with_the_holders_pid(
    tmp_path: Path, holder: subprocess.Popen[str]
) -> None:
    contender = python(CONTENDER, tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = contender.communicate(timeout=20)
    assert contender.returncode == 3, err
    pid, message = out.strip().split("|", 1)
    assert int(pid) == holder.pid
    assert f"process {holder.pid}" in message and str(tmp_path) in message
    assert err == ""


def test_in_process_contention_raises_the_typed_error(tmp_path: Path) -> None:
    with DataDir.open(str(tmp_path)):
        with pytest.raises(DataDirLockedError) as caught:
            DataDir.open(str(tmp_path))
        assert caught.value.pid == os.getpid()
        assert (tmp_path / LOCK_FILE).read_text().strip() == str(os.getpid())
    with DataDir.open(str(tmp_path)) as again:  # released on close
        assert again.fs.list_names() == [LOCK_FILE]


def test_the_lock_dies_with_its_process(tmp_path: Path, holder: subprocess.Popen[str]) -> None:
    holder.kill()
    holder.wait(timeout=10)
    with DataDir.open(str(tmp_path)) as taken:  # a stale pid in the file does not block
        assert taken.path == str(tmp_path)


def test_a_path_that_cannot_be_a_directory_is_a_typed_one_line_error(tmp_path: Path) -> None:
    afile = tmp_path / "afile"
    afile.write_text("x")
    for path in (afile, afile / "below"):
        with pytest.raises(DataDirUnusableError, match="is a file, not a directory"):
            DataDir.open(str(path))


def test_a_read_only_directory_says_so(tmp_path: Path) -> None:
    if os.geteuid() == 0:
        pytest.skip("root writes through directory permissions")
    locked = tmp_path / "ro"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        with pytest.raises(DataDirUnusableError, match="permission denied"):
            DataDir.open(str(locked))
    finally:
        locked.chmod(0o700)


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        (OSError(errno.EROFS, "Read-only file system"), "the file system is read-only"),
        (PermissionError(errno.EACCES, "Permission denied"), "permission denied"),
        (OSError(errno.ENOSPC, "No space left on device"), "No space left on device"),
    ],
)
def test_each_os_error_gets_a_reason_an_operator_can_act_on(error: OSError, reason: str) -> None:
    assert str(DataDirUnusableError("/data", unusable_reason(error))) == (
        f"cannot use /data as a data directory: {reason}"
    )
