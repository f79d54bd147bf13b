"""Small file helpers for the driver."""

from __future__ import annotations

import os


def remove_quietly(path: str) -> None:
    """Delete ``path``; a missing file (or a failed delete) is not an error."""
    try:
        os.remove(path)
    except OSError:
        pass
