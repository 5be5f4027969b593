"""Evaluations: retrieval quality scripts now, the transcript eval harness later."""
