"""Tests of the pure command layer (a package so module names cannot clash with integration/)."""
