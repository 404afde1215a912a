"""Torch modules the catalogue builds that torch itself does not offer."""
