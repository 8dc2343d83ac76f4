"""Channels per profile (testing, stable), the events that move instances between them,
and the rule that promotes an instance from testing to stable."""
