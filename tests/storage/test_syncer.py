"""The fsync thread (storage/syncer.py) as the process sees it."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

# Stops and frees syncers, then starts many threads. threading keeps a weak reference to
# every Thread; when the Syncer was itself a Thread subclass, compiled by mypyc (whose
# deallocators do not clear weak references), those references dangled and starting a
# later thread crashed the process (CONFIG SET appendonly no, then yes: a segfault).
_CHURN = """
import gc, threading
from tandemkv.storage.store import Store
from tandemkv.storage.syncer import Syncer

store = Store.open({path!r})
for _ in range(20):
    syncer = Syncer(store, 0.01, lambda index: None, print, lambda callback, *args: None)
    syncer.start()
    syncer.request()
    syncer.stop()
    del syncer
    gc.collect()
    for _ in range(20):
        thread = threading.Thread(target=lambda: None)
        thread.start()
        thread.join()
store.close()
print("done")
"""


def test_syncers_stopped_and_freed_leave_later_threads_unharmed(tmp_path: Path) -> None:
    script = textwrap.dedent(_CHURN.format(path=str(tmp_path / "db")))
    env = {**os.environ, "PYTHONFAULTHANDLER": "1"}
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, env=env
    )
    assert done.returncode == 0 and done.stdout.strip() == "done", done.stderr[-3000:]
