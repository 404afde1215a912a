"""Recurrent layers (filled in by the recurrent work)."""
LAYERS = []
