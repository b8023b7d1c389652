"""Test tools for tandemkv's replication: an in-memory cluster harness for scripted unit
tests, a deterministic simulator, invariant checkers and a linearizability checker
(the last is independent of the simulator and can check histories of real processes)."""
