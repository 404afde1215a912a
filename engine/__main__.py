"""``python -m engine COMMAND ...``: the headless command line (no Qt)."""
import sys

from .cli import main

sys.exit(main())
