"""Entry point: ``python3 -m bench``."""

from bench.cli import main

raise SystemExit(main())
