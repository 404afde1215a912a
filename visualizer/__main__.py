import sys

from visualizer.app import main

sys.exit(main())
