"""python3 -m tandemkv.testing.nodesim: run, replay and minimise seeds (see cli.py)."""

import sys

from tandemkv.testing.nodesim.cli import main

sys.exit(main(sys.argv[1:]))
