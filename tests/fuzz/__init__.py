"""The grammar-aware command fuzzer and its event-loop stall watchdog (see conftest.py)."""
