"""The production node in deterministic simulation: real `Server` + `Node` processes on
the simulated world (tandemkv.testing.world), real RESP clients, a seeded nemesis, and
the checks every run must pass. Replay a run with `python3 -m tandemkv.testing.nodesim
--seed N`."""
