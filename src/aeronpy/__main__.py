"""``python -m aeronpy``."""

import sys

from aeronpy.cli import main

sys.exit(main())
