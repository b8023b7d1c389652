"""Check a saved chaos history again, offline.

    PYTHONPATH=src:tests python3 -m chaos.recheck HISTORY.json [--seconds N]

Prints the checker's verdict (with the offending key's operations when it is not
linearizable) and any acknowledged writes later reads proved missing; exits 1 if the history is bad.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from chaos.checks import explain_violation, missing_writes
from tandemkv.testing.history import History
from tandemkv.testing.linearizability import check


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="chaos.recheck", description=__doc__)
    parser.add_argument("history", type=Path)
    parser.add_argument("--seconds", type=float, default=120.0, help="checker time budget")
    args = parser.parse_args(argv)
    document = json.loads(args.history.read_text())
    history = History.from_records(document["records"])
    print(f"seed {document['seed']}: {len(history.ops)} operations")
    result = check(history.ops, max_seconds=args.seconds)
    print(explain_violation(result))
    missing = missing_writes(history.ops)
    for item in missing:
        print(item.describe())
    return 0 if result.ok and not missing else 1


if __name__ == "__main__":
    sys.exit(main())
