"""Cluster mode: the asyncio shell that runs the replication core (tandemkv.replication)
inside a server, with the storage log as the replication log. See node.py."""
