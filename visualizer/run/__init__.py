"""The engine client: starts the training worker process and relays its messages as Qt
signals. Nothing here imports torch (the worker does, in its own process)."""
