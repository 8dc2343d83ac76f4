"""The farm's Prometheus metrics: one registry owned by the farm (no module globals)."""
