import sys

from tandemkv.cli import main

sys.exit(main())
