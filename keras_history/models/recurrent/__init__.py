"""Recurrent nets: memory through time (1990–1997)."""
