"""End-to-end tests against real server processes (see conftest.py)."""
