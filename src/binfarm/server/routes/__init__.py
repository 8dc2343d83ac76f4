"""One module per resource: each holds a FastAPI router over the Farm's use cases."""
