"""Dialogue decisions: (call state, caller turn) -> (what to say, what to do). No audio, no I/O."""
