"""tandemkv's benchmark harness: ratios against the systems users would pick instead.

Every figure comes from one run on one machine, with the systems interleaved. Run it from the
repository root: ``python3 -m bench`` (``--help`` lists the options, ``--list`` the suites).
"""
