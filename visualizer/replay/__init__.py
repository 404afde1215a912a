"""Replay: the timeline and the session source the views read. Live viewing is replay at
the head of a session file that a worker is still writing."""
