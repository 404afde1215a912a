"""The sessions library: the user's recorded runs, with their metrics and notes."""
