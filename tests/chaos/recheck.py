"""Check a saved chaos history again, offline.

    PYTHONPATH=src:tests python3 -m chaos.recheck HISTORY.json [--seconds N]

Prints the register checker's verdict (with the offending key's operations when it is
not linearizable), any acknowledged writes later reads proved missing and what the list
and counter checks found; exits 1 if the history is bad.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from chaos.checks import check_registers, explain_violation, missing_writes
from chaos.harness import collection_problems
from tandemkv.testing.history import History


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="chaos.recheck", description=__doc__)
    parser.add_argument("history", type=Path)
    parser.add_argument("--seconds", type=float, default=120.0, help="checker time budget")
    args = parser.parse_args(argv)
    document = json.loads(args.history.read_text())
    history = History.from_records(document["records"])
    print(f"seed {document['seed']}: {len(history.ops)} operations")
    result = check_registers(history.ops, max_seconds=args.seconds)
    print(explain_violation(result))
    missing = missing_writes(history.ops)
    for item in missing:
        print(item.describe())
    collections = collection_problems(history.ops)
    for problem in collections:
        print(problem)
    return 0 if result.ok and not missing and not collections else 1


if __name__ == "__main__":
    sys.exit(main())
