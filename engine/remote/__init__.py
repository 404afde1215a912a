"""The remote engine: ``python -m engine serve`` runs training jobs for windows elsewhere, and
its client side (EngineLink, RemoteRun) mirrors their sessions locally. Needs pyzmq (the
``[remote]`` extra); importing this package alone does not. See docs/remote.md."""
