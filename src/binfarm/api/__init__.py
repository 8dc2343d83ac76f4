"""The HTTP contract: wire bodies (models) and the client that speaks it (client)."""
