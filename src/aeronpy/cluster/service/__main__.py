"""``python -m aeronpy.cluster.service ...`` = ``aeronpy cluster-service ...``."""

from __future__ import annotations

import sys

from aeronpy.cli import main

if __name__ == "__main__":
    sys.exit(main(["cluster-service", *sys.argv[1:]]))
