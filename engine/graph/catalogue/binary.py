"""Binary layers (filled in by the binary work)."""
LAYERS = []
