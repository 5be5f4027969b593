"""Knowledge base: FAQ ingestion, per-company index, hybrid retrieval with an answerable decision.

This package never imports `bot`: it takes its configuration as arguments so it can be reused and tested alone.
"""
