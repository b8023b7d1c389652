"""Shared test helpers: real server processes and a byte-exact RESP client."""
