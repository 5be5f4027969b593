"""Carriers that drive the brain without a phone line: the text runner (and, later, the WAV runner)."""
